import { pino, type Logger } from 'pino';
import type { LogEntry, LogLevel } from '@temporalio/worker';

export type { Logger };

/**
 * Fields removed from every log line, whatever a caller passes: credentials,
 * signatures and payload bodies. Callers log ids (tenant, job, workflow, run,
 * request) and outcomes; this list is the second line of defence.
 */
export const redactedPaths = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  '*.authorization',
  'apiKey',
  '*.apiKey',
  'secret',
  '*.secret',
  'signingSecret',
  '*.signingSecret',
  'signature',
  '*.signature',
  'input',
  '*.input',
  'payload',
  '*.payload',
  'body',
  '*.body',
];

/** JSON logs on stdout, one object per line. */
export function createLogger(name: string, level = 'info'): Logger {
  return pino({ name, level, redact: { paths: redactedPaths, remove: true } });
}

const sdkLevels: Record<string, LogLevel> = { trace: 'TRACE', debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR', fatal: 'ERROR', silent: 'ERROR' };

/** The Temporal SDK log level matching a pino level (the SDK has nothing above ERROR). */
export function sdkLogLevel(level: string): LogLevel {
  return sdkLevels[level] ?? 'INFO';
}

/**
 * A `DefaultLogger` log function that writes the Temporal SDK's entries
 * (worker, workflow and activity loggers, and forwarded Core logs) through
 * pino, keeping their attributes (workflowId, runId, activityType…) as fields.
 */
export function pinoSdkLogFunction(log: Logger): (entry: LogEntry) => void {
  return (entry) => {
    const { sdkComponent, error, ...meta } = (entry.meta ?? {}) as Record<string, unknown>;
    const fields: Record<string, unknown> = { ...meta, sdkComponent: sdkComponent ?? 'worker' };
    if (error !== undefined) fields.err = error;
    const message = entry.message;
    switch (entry.level) {
      case 'TRACE':
        return log.trace(fields, message);
      case 'DEBUG':
        return log.debug(fields, message);
      case 'INFO':
        return log.info(fields, message);
      case 'WARN':
        return log.warn(fields, message);
      default:
        return log.error(fields, message);
    }
  };
}
