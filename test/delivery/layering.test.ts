// delivery/ is the one stage between the protocols and the store (docs/architecture.md): no
// protocol type goes into it, and no protocol stores or queues a message past it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const SRC = new URL('../../src/', import.meta.url).pathname;

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(SRC, dir))) {
    const rel = join(dir, name);
    if (statSync(join(SRC, rel)).isDirectory()) out.push(...files(rel));
    else if (name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

const PROTOCOLS = ['smtp', 'imap', 'pop3', 'http'];

test('delivery/ imports no protocol and no connection code', () => {
  const bad: string[] = [];
  for (const f of files('delivery')) {
    const text = readFileSync(join(SRC, f), 'utf8');
    for (const m of text.matchAll(/from '\.\.\/([a-z-]+)\//g)) {
      if ([...PROTOCOLS, 'net'].includes(m[1]!)) bad.push(`${f}: ${m[0]}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('protocols store and queue messages only through delivery/', () => {
  // The calls that put a message somewhere, and the recipient resolution behind them.
  const calls = /\.(enqueueOutbound|append|resolveRecipient)\(|\bdeliverLocal\(|\bindexMessage\(/;
  const bad: string[] = [];
  for (const p of PROTOCOLS) {
    for (const f of files(p)) {
      const lines = readFileSync(join(SRC, f), 'utf8').split('\n');
      lines.forEach((line, i) => {
        // store.append and friends; a protocol's own buffers (this.append) are not the store.
        if (calls.test(line) && !/this\.append\(/.test(line))
          bad.push(`${f}:${i + 1}: ${line.trim()}`);
      });
      const text = lines.join('\n');
      if (/from '\.\.\/(\.\.\/)?delivery\/local\.js'/.test(text))
        bad.push(`${f}: delivery/local.js`);
    }
  }
  assert.deepEqual(bad, []);
});

test('one place queues mail: delivery/outbound.ts (the store aside)', () => {
  const found: string[] = [];
  for (const f of files('.')) {
    if (f.startsWith('store/')) continue;
    if (/\.enqueueOutbound\(/.test(readFileSync(join(SRC, f), 'utf8'))) found.push(f);
  }
  assert.deepEqual(found, ['delivery/outbound.ts']);
});
