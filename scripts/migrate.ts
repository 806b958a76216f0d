import { loadConfig, requireDatabaseUrl } from '../runtime/config.ts';
import { runMigrations } from '../db/migrate.ts';

await runMigrations(requireDatabaseUrl(loadConfig()));
console.log('migrations applied');
