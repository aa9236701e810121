// Connection code schedules through its guard (src/net/guard.ts): a bare timer, immediate,
// microtask or nextTick, or a promise left with `void`, would run outside it, and a throw
// there would take the whole process down (exit 70) instead of ending one connection. This
// reads the sources of the protocols and the network layer and names every such line; a line
// that is not connection code says why with `// unguarded: ...` on it or on the line before.
// (Promises left without any handler are biome's noFloatingPromises, see biome.json.)
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIRS = ['src/imap', 'src/smtp', 'src/pop3', 'src/net', 'src/http'];
/** Not connection code, whole files. */
const SKIP = new Set([
  'src/net/guard.ts', // the guard itself
  'src/pop3/workers/pool.ts', // the main process's worker pool
]);
const SKIP_DIRS = ['src/smtp/client/']; // outbound connections: the queue worker's

/** What is flagged, each with why. */
const RULES: [RegExp, string][] = [
  [/(?<![.\w])(setTimeout|setInterval|setImmediate|queueMicrotask)\s*\(/, 'bare timer'],
  [/\bprocess\.nextTick\s*\(/, 'bare nextTick'],
  [/(?<![\w.])void\s+(?:await\s+)?[\w(]/, 'promise left with void'],
];

export function findUnguarded(path: string, text: string): string[] {
  const found: string[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const code = stripComment(line);
    for (const [re, what] of RULES) {
      if (!re.test(code)) continue;
      if (line.includes('unguarded:') || lines[i - 1]?.includes('unguarded:')) continue;
      found.push(`${path}:${i + 1}: ${what}: ${line.trim()}`);
    }
  });
  return found;
}

/** The line without a trailing // comment, and empty for a comment line (a rough cut). */
function stripComment(line: string): string {
  const t = line.trimStart();
  if (t.startsWith('//') || t.startsWith('*') || t.startsWith('/*')) return '';
  const at = line.indexOf(' // ');
  return at >= 0 ? line.slice(0, at) : line;
}

function* sources(dir: string): Generator<string> {
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) yield* sources(p);
    else if (e.name.endsWith('.ts')) yield p;
  }
}

test('connection code schedules and detaches through its guard', () => {
  const found: string[] = [];
  let files = 0;
  for (const dir of DIRS) {
    for (const path of sources(dir)) {
      if (SKIP.has(path) || SKIP_DIRS.some((d) => path.startsWith(d))) continue;
      files++;
      found.push(
        ...findUnguarded(relative(ROOT, join(ROOT, path)), readFileSync(join(ROOT, path), 'utf8')),
      );
    }
  }
  assert.ok(files > 100, `read ${files} files`);
  assert.deepEqual(found, []);
});

test('the check finds what it is for', () => {
  const bad = [
    'setTimeout(() => go(), 5);',
    '  this.t = setImmediate(cb);',
    'queueMicrotask(cb)',
    'process.nextTick(() => {});',
    '  void this.flush();',
    'if (x) void s.conn.finish();',
    'const f = () => void stop();',
  ];
  for (const line of bad) assert.equal(findUnguarded('x.ts', line).length, 1, line);
  const good = [
    'this.conn.guard.setTimeout(() => go(), 5);',
    'clearTimeout(this.timer);',
    'async run(): Promise<void> {',
    'function f(): void {',
    'type F = () => void | Promise<void>;',
    '// setTimeout(() => go(), 5) in a comment',
    "setTimeout(cb, 5); // unguarded: the server's own",
  ];
  for (const line of good) assert.deepEqual(findUnguarded('x.ts', line), [], line);
  assert.deepEqual(findUnguarded('x.ts', "// unguarded: the server's own\nsetTimeout(cb, 5);"), []);
});
