/**
 * Makes sure the Temporal CLIs are available before tests, `npm start` or CI need them.
 *
 *   tsx scripts/provision-cli.ts [--quiet] [--only temporal|tctl]
 *
 * Prints one line per tool on stdout (`temporal: <path> (<version>)`, `tctl: <path>`);
 * progress goes to stderr and is silenced by --quiet. Exits 1 with a how-to-fix message
 * when a tool cannot be provisioned, 2 on bad arguments.
 */
import { parseArgs } from 'node:util';
import { ensureTool, readToolVersion, ToolUnavailableError, type ToolName } from './lib/cli-tools.ts';

const TOOL_NAMES = ['temporal', 'tctl'] as const satisfies readonly ToolName[];
const USAGE = 'usage: tsx scripts/provision-cli.ts [--quiet] [--only temporal|tctl]';

function isToolName(value: string): value is ToolName {
  return (TOOL_NAMES as readonly string[]).includes(value);
}

interface CliArgs {
  quiet: boolean;
  tools: readonly ToolName[];
}

/** Returns the parsed arguments, or an error message for the user. */
function parseCliArgs(argv: string[]): CliArgs | string {
  let values: { quiet?: boolean; only?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { quiet: { type: 'boolean' }, only: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  if (values.only !== undefined && !isToolName(values.only)) {
    return `--only must be one of ${TOOL_NAMES.join(', ')}, got "${values.only}"`;
  }
  return { quiet: values.quiet ?? false, tools: values.only ? [values.only] : TOOL_NAMES };
}

async function describeTool(name: ToolName, binary: string): Promise<string> {
  if (name !== 'temporal') return `${name}: ${binary}`;
  const version = await readToolVersion(name, binary);
  return `${name}: ${binary} (${version ?? 'unknown version'})`;
}

async function main(argv: string[]): Promise<number> {
  const args = parseCliArgs(argv);
  if (typeof args === 'string') {
    console.error(`${args}\n${USAGE}`);
    return 2;
  }
  try {
    // One at a time: each build already uses every core, and interleaved logs would be unreadable.
    for (const name of args.tools) {
      const binary = await ensureTool(name, { quiet: args.quiet });
      console.log(await describeTool(name, binary));
    }
    return 0;
  } catch (err) {
    // The message is the user-facing explanation; a stack trace would only bury it.
    if (err instanceof ToolUnavailableError) {
      console.error(err.message);
      return 1;
    }
    throw err;
  }
}

process.exitCode = await main(process.argv.slice(2));
