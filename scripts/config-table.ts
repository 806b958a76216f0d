/** Prints the configuration table for docs/CONFIGURATION.md (`npm run config:table`); a test keeps docs/CONFIGURATION.md in sync. */
import { pathToFileURL } from 'node:url';
import { settings } from '../runtime/config.ts';

export function configTableMarkdown(): string {
  const rows = Object.values(settings).map((s) => {
    const def = s.default === undefined ? '(unset)' : s.default === '' ? '(empty)' : `\`${s.default}\``;
    return `| \`${s.env}\` | ${def} | ${s.description} |`;
  });
  return ['| Variable | Default | Meaning |', '|---|---|---|', ...rows].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log(configTableMarkdown());
