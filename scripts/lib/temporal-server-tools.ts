/**
 * The binaries of a production Temporal cluster, built from the Go module
 * proxy like the CLI (see go-binary.ts for where each is looked for):
 *
 * - the server (`go.temporal.io/server/cmd/server`), one process per service;
 * - its schema tool (`go.temporal.io/server/cmd/tools/sql`, i.e. `temporal-sql-tool`);
 * - the Web UI server (`github.com/temporalio/ui-server/v2/cmd/server`, the
 *   module the CLI embeds, so the UI is the dev server's UI);
 * - the Postgres schema files of that server version, copied out of the Go
 *   module cache into the per-user cache so a cleaned module cache does not
 *   break a later start.
 *
 * The server version is the one inside Temporal CLI 1.5.1, so the dev server
 * and the cluster run the same engine.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureGoBinary, GoBinaryUnavailableError, type GoBinarySpec } from './go-binary.ts';
import { findOnPath, makeLogger, userCacheDir, withToolLock } from './tool-files.ts';

const execFileAsync = promisify(execFile);

/** Temporal server release (the one Temporal CLI 1.5.1 embeds). */
export const TEMPORAL_SERVER_VERSION = '1.29.1';
/** Web UI server release (the one Temporal CLI 1.5.1 embeds). */
export const TEMPORAL_UI_VERSION = '2.42.1';

export const temporalServerSpec: GoBinarySpec = {
  name: 'temporal-server',
  goPackage: 'go.temporal.io/server/cmd/server',
  version: TEMPORAL_SERVER_VERSION,
  installedAs: 'server',
  envVar: 'TEMPORAL_SERVER_BIN',
  buildHint: 'about 2 min with a warm Go build cache, 4 min cold',
};

export const temporalSqlToolSpec: GoBinarySpec = {
  name: 'temporal-sql-tool',
  goPackage: 'go.temporal.io/server/cmd/tools/sql',
  version: TEMPORAL_SERVER_VERSION,
  installedAs: 'sql',
  envVar: 'TEMPORAL_SQL_TOOL',
  buildHint: 'a few seconds once the server is built',
};

export const temporalUiServerSpec: GoBinarySpec = {
  name: 'temporal-ui-server',
  goPackage: 'github.com/temporalio/ui-server/v2/cmd/server',
  version: TEMPORAL_UI_VERSION,
  installedAs: 'server',
  envVar: 'TEMPORAL_UI_SERVER_BIN',
  buildHint: 'about a minute',
};

/** Everything the cluster launcher needs. */
export interface TemporalServerTools {
  server: string;
  sqlTool: string;
  uiServer: string;
  /** `…/schema/postgresql/v12`, holding `temporal/versioned` and `visibility/versioned`. */
  postgresSchemaDir: string;
}

/** Builds (once) and returns every cluster binary; one at a time, since each build uses every core. */
export async function ensureTemporalServerTools(opts: { quiet?: boolean; log?: (line: string) => void } = {}): Promise<TemporalServerTools> {
  const server = await ensureGoBinary(temporalServerSpec, opts);
  const sqlTool = await ensureGoBinary(temporalSqlToolSpec, opts);
  const uiServer = await ensureGoBinary(temporalUiServerSpec, opts);
  const postgresSchemaDir = await ensurePostgresSchemaDir(opts);
  return { server, sqlTool, uiServer, postgresSchemaDir };
}

/**
 * The server's versioned Postgres schema (`schema/postgresql/v12`), kept in
 * the per-user cache: `$TEMPORAL_SCHEMA_DIR` when set, else copied from the
 * module (`go mod download` fetches it from the proxy if the module cache
 * does not have it).
 */
export async function ensurePostgresSchemaDir(opts: { quiet?: boolean; log?: (line: string) => void } = {}): Promise<string> {
  if (process.env.TEMPORAL_SCHEMA_DIR) return path.resolve(process.env.TEMPORAL_SCHEMA_DIR);
  const dest = path.join(path.dirname(userCacheDir()), `temporal-schema-${TEMPORAL_SERVER_VERSION}`, 'postgresql', 'v12');
  const marker = path.join(dest, 'temporal', 'versioned');
  if (await exists(marker)) return dest;
  const log = makeLogger('temporal-schema', opts);
  return await withToolLock('temporal-schema', log, async () => {
    if (await exists(marker)) return dest;
    const go = await findOnPath('go');
    if (!go) throw new GoBinaryUnavailableError(`the Temporal ${TEMPORAL_SERVER_VERSION} schema files are needed: install Go >= 1.25, or set TEMPORAL_SCHEMA_DIR to its schema/postgresql/v12 folder`);
    const { stdout } = await execFileAsync(go, ['mod', 'download', '-json', `go.temporal.io/server@v${TEMPORAL_SERVER_VERSION}`], { maxBuffer: 8 * 1024 * 1024 });
    const moduleDir = (JSON.parse(stdout) as { Dir?: string }).Dir;
    if (!moduleDir) throw new GoBinaryUnavailableError(`go mod download gave no directory for go.temporal.io/server@v${TEMPORAL_SERVER_VERSION}:\n${stdout}`);
    const tmp = `${dest}.tmp-${process.pid}`;
    await fs.rm(tmp, { recursive: true, force: true });
    await fs.mkdir(path.dirname(dest), { recursive: true });
    await fs.cp(path.join(moduleDir, 'schema', 'postgresql', 'v12'), tmp, { recursive: true });
    // The module cache is read-only; the copy must be writable so a later clean can remove it.
    await execFileAsync('chmod', ['-R', 'u+w', tmp]);
    await fs.rm(dest, { recursive: true, force: true });
    await fs.rename(tmp, dest);
    log(`schema files of Temporal ${TEMPORAL_SERVER_VERSION} copied to ${dest}`);
    return dest;
  });
}

async function exists(file: string): Promise<boolean> {
  return await fs.stat(file).then(
    () => true,
    () => false,
  );
}
