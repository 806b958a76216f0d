/**
 * JSON log lines on stdout (pino), like Jobplane's processes. The client
 * package ships alone, so this is not runtime/logger.ts: the same rule,
 * credentials and job input never logged, is kept here with its own list.
 */
import { pino, type Logger } from 'pino';

const redactedPaths = ['apiKey', '*.apiKey', 'authorization', '*.authorization', 'databaseUrl', '*.databaseUrl', 'input', '*.input'];

export function createRelayLogger(level: string): Logger {
  return pino({ name: 'outbox-relay', level, redact: { paths: redactedPaths, remove: true } });
}
