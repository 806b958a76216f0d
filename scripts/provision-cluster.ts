/**
 * Makes sure the binaries of a local Temporal cluster exist before
 * `JOBPLANE_TEMPORAL=cluster npm start`, the cluster tests, the chaos run or
 * CI need them: the server, its schema tool and the Web UI server, built from
 * the Go module proxy (minutes the first time, then from the per-user cache),
 * and the server's Postgres schema files.
 *
 *   tsx scripts/provision-cluster.ts [--quiet]
 *
 * Prints one line per binary on stdout; progress goes to stderr. Exits 1 with
 * a how-to-fix message when something cannot be had.
 */
import { GoBinaryUnavailableError } from './lib/go-binary.ts';
import { ensureTemporalServerTools, TEMPORAL_SERVER_VERSION, TEMPORAL_UI_VERSION } from './lib/temporal-server-tools.ts';

const quiet = process.argv.includes('--quiet');
try {
  const tools = await ensureTemporalServerTools({ quiet });
  console.log(`temporal-server ${TEMPORAL_SERVER_VERSION}: ${tools.server}`);
  console.log(`temporal-sql-tool ${TEMPORAL_SERVER_VERSION}: ${tools.sqlTool}`);
  console.log(`temporal-ui-server ${TEMPORAL_UI_VERSION}: ${tools.uiServer}`);
  console.log(`postgres schema: ${tools.postgresSchemaDir}`);
} catch (err) {
  console.error(err instanceof GoBinaryUnavailableError ? err.message : err);
  process.exit(1);
}
