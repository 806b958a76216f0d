/**
 * Hostile JSON, refused before anything parses it into objects: one linear
 * pass over the text that finds, with the dotted path of the field (the same
 * paths zod errors use, `input.payload.a.0`):
 *
 * - nesting deeper than `maxDepth` (a 10,000-level array would otherwise
 *   overflow the stack of every recursive walker after JSON.parse);
 * - a key given twice in one object (JSON.parse keeps the last silently, so
 *   what was validated and what was meant could differ);
 * - NUL characters and lone UTF-16 surrogates in any string or key
 *   (Postgres `text` and `jsonb` refuse both, and neither is text);
 * - numbers too large to be finite (`1e400` would become Infinity, then null).
 *
 * Text that is not JSON at all is left to JSON.parse, which says why.
 */
export interface JsonProblem {
  path: string;
  message: string;
}

/** The first hostile thing in `text`, or undefined. */
export function inspectJson(text: string, maxDepth: number, prefix = ''): JsonProblem | undefined {
  // One frame per open container: its kind, the keys seen (objects) or the next index (arrays).
  const stack: { kind: 'object' | 'array'; keys: Set<string>; index: number; key: string | undefined }[] = [];
  const pathOf = (extra?: string) => {
    const parts = prefix ? [prefix] : [];
    for (const frame of stack) {
      if (frame.kind === 'array') parts.push(String(frame.index));
      else if (frame.key !== undefined) parts.push(frame.key);
    }
    if (extra !== undefined) parts.push(extra);
    return parts.join('.') || '(body)';
  };
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const str = readString(text, i);
      if (!str) return undefined; // not JSON: JSON.parse will say so
      i = str.end;
      const top = stack.at(-1);
      if (expectKey && top?.kind === 'object') {
        top.key = undefined; // the path of a key problem is the object's path plus the key
        if (str.problem) return { path: pathOf(str.value), message: `a key ${str.problem}` };
        if (top.keys.has(str.value)) return { path: pathOf(str.value), message: 'is given twice in the same object' };
        top.keys.add(str.value);
        top.key = str.value;
        expectKey = false;
      } else if (str.problem) {
        return { path: pathOf(), message: str.problem };
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= maxDepth) return { path: pathOf(), message: `nests deeper than ${maxDepth} levels` };
      stack.push({ kind: c === 0x7b ? 'object' : 'array', keys: new Set(), index: 0, key: undefined });
      expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      const top = stack.at(-1);
      if (top?.kind === 'array') top.index++;
      else if (top) expectKey = true;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      let end = i;
      while (end + 1 < text.length && /[0-9eE+\-.]/.test(text[end + 1]!)) end++;
      if (!Number.isFinite(Number(text.slice(i, end + 1)))) return { path: pathOf(), message: 'is a number too large to represent' };
      i = end;
    } else if (c === 0) {
      return { path: pathOf(), message: 'contains a NUL character' };
    }
  }
  return undefined;
}

/** Reads the JSON string starting at `start` (a quote); what it decodes to and whether it is storable text. */
function readString(text: string, start: number): { value: string; end: number; problem?: string } | undefined {
  let value = '';
  let problem: string | undefined;
  for (let i = start + 1; i < text.length; i++) {
    let code = text.charCodeAt(i);
    if (code === 0x22) return { value, end: i, ...(problem ? { problem } : {}) };
    if (code === 0x5c /* \ */) {
      const esc = text[++i];
      if (esc === 'u') {
        code = parseInt(text.slice(i + 1, i + 5), 16);
        if (Number.isNaN(code)) return undefined;
        i += 4;
      } else {
        const simple: Record<string, number> = { '"': 0x22, '\\': 0x5c, '/': 0x2f, b: 8, f: 12, n: 10, r: 13, t: 9 };
        if (esc === undefined || simple[esc] === undefined) return undefined;
        code = simple[esc];
      }
    }
    if (code === 0) problem ??= 'contains a NUL character';
    if (code >= 0xd800 && code <= 0xdbff) {
      // A high surrogate must be followed by a low one, escaped or raw.
      const next = text.startsWith('\\u', i + 1) ? parseInt(text.slice(i + 3, i + 7), 16) : text.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) problem ??= 'contains a lone UTF-16 surrogate';
      else {
        value += String.fromCharCode(code, next);
        i += text.startsWith('\\u', i + 1) ? 6 : 1;
        continue;
      }
    } else if (code >= 0xdc00 && code <= 0xdfff) {
      problem ??= 'contains a lone UTF-16 surrogate';
    }
    value += String.fromCharCode(code);
  }
  return undefined;
}

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** NUL and lone surrogates, in a string from elsewhere (a query parameter, a path segment). */
export function textProblem(value: string): string | undefined {
  if (value.includes('\u0000')) return 'contains a NUL character';
  if (loneSurrogate.test(value)) return 'contains a lone UTF-16 surrogate';
  return undefined;
}
