/**
 * Prints what docs and files are generated from (a unit test keeps them in sync):
 *   npx tsx client/outbox/print.ts sql     > client/outbox/outbox.sql
 *   npx tsx client/outbox/print.ts config  (the relay's variables, for docs/OUTBOX.md)
 */
import { outboxTableSql } from './table.ts';
import { relayConfigTableMarkdown } from './relay/config.ts';

const what = process.argv[2];
if (what === 'sql') process.stdout.write(outboxTableSql());
else if (what === 'config') console.log(relayConfigTableMarkdown());
else {
  console.error('usage: npx tsx client/outbox/print.ts sql|config');
  process.exitCode = 2;
}
