// `letterbox serve` runs with a fixed V8 heap growing factor of 3 (cli/serve-heap.ts), unless
// Node's command line gives one. Read back from the spawned server itself: with
// --trace-gc-verbose, V8 prints the factor it applied each time it sets a heap's next limit
// ("[HeapController] Limit: old size: ..., new limit: ... (F)"), and a probe loaded into the
// server collects garbage on SIGUSR2, so a limit is set after `serve` started.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { heapGrowingGiven } from '../../src/cli/serve-heap.js';
import { BIN, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';

const PROBE = `process.on('SIGUSR2', () => {
  globalThis.gc();
  process.stderr.write('probe: collected\\n');
});
`;

/** Every listener of an init'ed config on 127.0.0.1 and a free port. */
async function freePorts(file: string): Promise<void> {
  let toml = await readFile(file, 'utf8');
  const names = ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http'];
  for (const name of names) {
    const port = await freePort();
    toml = toml.replace(new RegExp(`(\\[listeners\\.${name}\\][^\\[]*?port = )\\d+`), `$1${port}`);
  }
  await writeFile(file, toml);
}

/** Starts serve with the given Node flags, collects once after it started, stops it: V8's trace. */
async function limitsAfterStart(
  cfg: string,
  probe: string,
  nodeFlags: string[],
): Promise<string[]> {
  const child = spawn(
    process.execPath,
    [
      '--expose-gc',
      '--trace-gc-verbose',
      '--import',
      probe,
      ...nodeFlags,
      BIN,
      '--config',
      cfg,
      'serve',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    let signalled = false;
    child.stderr.on('data', (d) => {
      stderr += d;
      if (!signalled && stderr.includes('Stop with')) {
        signalled = true;
        child.kill('SIGUSR2');
      }
      if (stderr.includes('probe: collected')) resolve();
    });
    child.on('exit', () => reject(new Error(`serve exited early:\n${stderr}`)));
  });
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  // V8's trace goes through C's stdout, flushed at exit: the collection the probe asked for
  // came after serve set the factor, and nothing in serve's stop sets one back.
  return stdout.split('\n').filter((l) => l.includes('[HeapController] Limit:'));
}

function lastFactor(limits: string[]): string {
  assert.ok(limits.length > 0, 'V8 printed no limit');
  const m = /\((\d+\.\d)\)\s*$/.exec(limits.at(-1) ?? '');
  assert.ok(m, `no factor in ${limits.at(-1)}`);
  return m[1] as string;
}

describe('letterbox serve: V8 heap growing factor', () => {
  let dir: string;
  let cfg: string;
  let probe: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lb-serve-heap-'));
    const r = await runCli(['init', '--dir', dir, '--hostname', 'mail.example.test']);
    assert.equal(r.code, 0, r.stderr);
    cfg = join(dir, 'letterbox.toml');
    await freePorts(cfg);
    probe = join(dir, 'probe.mjs');
    await writeFile(probe, PROBE);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('the server sets limits with a factor of 3', async () => {
    assert.equal(lastFactor(await limitsAfterStart(cfg, probe, [])), '3.0');
  });

  test("Node's own --heap-growing-percent is kept", async () => {
    const flag = ['--heap-growing-percent=50'];
    assert.equal(lastFactor(await limitsAfterStart(cfg, probe, flag)), '1.5');
  });

  test('the operator flag is recognised in both spellings', () => {
    assert.ok(heapGrowingGiven(['--heap-growing-percent=50']));
    assert.ok(heapGrowingGiven(['--expose-gc', '--heap_growing_percent=10']));
    assert.ok(!heapGrowingGiven(['--expose-gc', '--heap-growing-percentage=1']));
    assert.ok(!heapGrowingGiven([]));
  });
});
