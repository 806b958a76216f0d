/**
 * No import cycles among the app's modules (ARCHITECTURE.md: arrows go one
 * way), type-only imports included: a type cycle is still two modules that
 * cannot be read, or moved, one without the other. Relative imports only;
 * packages cannot import us back.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const folders = ['api', 'activities', 'client', 'contracts', 'db', 'domain', 'runtime', 'workers', 'workflows', 'scripts', 'bench'];

function sourceFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.parentPath.includes('node_modules') && !e.parentPath.includes(`${path.sep}migrations`))
    .map((e) => path.join(e.parentPath, e.name));
}

/** Relative imports (and re-exports) of a module, as absolute paths. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const statements = text.match(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms) ?? [];
  return statements.map((s) => path.resolve(path.dirname(file), /'(\.[^']+)'/.exec(s)![1]!));
}

function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'visiting');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === 'visiting') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

describe('module structure', () => {
  it('has no import cycles', () => {
    const files = folders.flatMap((f) => sourceFiles(path.join(root, f)));
    expect(files.length).toBeGreaterThan(100);
    const graph = new Map(files.map((f) => [f, importsOf(f)]));
    const cycles = findCycles(graph).map((c) => c.map((f) => path.relative(root, f)).join(' → '));
    expect(cycles).toEqual([]);
  });
});
