import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs on stdout. Secrets and payload bodies never go in: callers log ids
 * (tenant, job, workflow, run), and the redact list is a second line of defence.
 */
export function createLogger(name: string, level = 'info'): Logger {
  return pino({
    name,
    level,
    redact: { paths: ['authorization', 'headers.authorization', '*.apiKey', '*.secret', 'input', 'payload'], remove: true },
  });
}
