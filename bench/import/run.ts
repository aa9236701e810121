// Import bench (issue 18): one Maildir of mixed sizes (Dovecot's layout: flags, keyword
// letters with dovecot-keywords, dovecot-uidlist, a second folder) imported by `letterbox
// import maildir` (the CLI as an operator runs it, into a fresh account) and by Dovecot's
// `doveadm import` (into a fresh user of a private instance, mail_fsync = always), in the
// same run: messages per second and the peak RSS of each importing process tree.
// Usage (from the repository root):
//   node --import tsx bench/import/run.ts [--messages 100000] [--only letterbox|dovecot] [--keep]
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { corpus } from '../lib/corpus.js';
import { type DovecotSide, startDovecot } from '../lib/dovecot.js';
import { setupLetterbox } from '../lib/letterbox-server.js';
import { RssSampler } from '../lib/proc.js';
import { fmt, fmtBytes, table } from '../lib/stats.js';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    only: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const PASSWORD = 'bench-password';
const USER = 'import@bench.test';
const COUNT = Number(args.messages);
const log = (s: string) => process.stderr.write(`${s}\n`);

/** Mixed sizes: 80% about 3 KB, 19% about 20 KB, 1% about 200 KB. */
const SIZES = [
  { share: 80, c: corpus({ size: 3_000, to: USER, tag: 's' }) },
  { share: 19, c: corpus({ size: 20_000, to: USER, tag: 'm' }) },
  { share: 1, c: corpus({ size: 200_000, to: USER, tag: 'l' }) },
];
function message(n: number): Buffer {
  const r = n % 100;
  const pick = r < 80 ? SIZES[0]! : r < 99 ? SIZES[1]! : SIZES[2]!;
  return pick.c.message(n);
}

/** The source Maildir, as Dovecot leaves one: 90% in INBOX, 10% in .Archive. Bytes written. */
function writeSource(dir: string): number {
  let bytes = 0;
  const folders = [
    { path: dir, lines: [] as string[], next: 1 },
    { path: join(dir, '.Archive'), lines: [] as string[], next: 1 },
  ];
  for (const f of folders) {
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(f.path, sub), { recursive: true });
    writeFileSync(join(f.path, 'dovecot-keywords'), '0 $Label1\n1 work\n');
  }
  const start = Math.floor(Date.UTC(2023, 0, 1) / 1000);
  for (let n = 0; n < COUNT; n++) {
    const f = folders[n % 10 === 9 ? 1 : 0]!;
    const lf = Buffer.from(message(n).toString('latin1').replaceAll('\r\n', '\n'), 'latin1');
    const flags = `${n % 10 === 0 ? 'F' : ''}${n % 3 === 0 ? 'S' : ''}${n % 20 === 0 ? 'a' : ''}${n % 7 === 0 ? 'b' : ''}`;
    const base = `${start + n}.M${n}P1.bench,S=${lf.length}`;
    const file = join(f.path, 'cur', `${base}:2,${flags}`);
    writeFileSync(file, lf);
    const t = new Date((start + n) * 1000);
    utimesSync(file, t, t);
    f.lines.push(`${f.next} :${base}`);
    f.next++;
    bytes += lf.length;
  }
  for (const f of folders) {
    writeFileSync(
      join(f.path, 'dovecot-uidlist'),
      `3 V${start} N${f.next}\n${f.lines.join('\n')}\n`,
    );
  }
  return bytes;
}

interface Result {
  seconds: number;
  rss: number;
}

/** Runs a command, sampling its process tree's memory; rejects on a non-zero exit. */
function measure(cmd: string, argv: string[], what: string): Promise<Result & { stdout: string }> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(cmd, argv, {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PATH: `/usr/sbin:/usr/bin:${process.env.PATH ?? ''}` },
    });
    const sampler = new RssSampler(() => child.pid, 100);
    sampler.start();
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      const { rss } = sampler.stop();
      if (code !== 0) reject(new Error(`${what} failed (${code}): ${stderr.slice(-2000)}`));
      else resolvePromise({ seconds, rss, stdout });
    });
  });
}

async function main(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'lb-bench-import-'));
  // Dovecot's doveadm reads the source as the mail user (nobody when run as root).
  chmodSync(base, 0o755);
  let dv: DovecotSide | undefined;
  const rows: string[][] = [];
  const results = new Map<string, Result>();
  try {
    const src = join(base, 'src', 'Maildir');
    log(`writing ${COUNT} messages into ${src}`);
    const bytes = writeSource(src);
    chmodSync(join(base, 'src'), 0o755);
    log(`source: ${COUNT} messages, ${fmtBytes(bytes)}`);
    if (args.only !== 'letterbox') {
      dv = await startDovecot({
        script: join(here, '..', 'lib', 'setup-dovecot.sh'),
        dir: join(base, 'dovecot'),
        users: [USER],
        password: PASSWORD,
      });
      log(`dovecot ${dv.version}: doveadm import`);
      const r = await measure(
        'doveadm',
        ['-c', dv.configFile, 'import', '-u', USER, `maildir:${src}`, '', 'all'],
        'doveadm import',
      );
      const inbox = dv.doveadm(['mailbox', 'status', '-u', USER, 'messages', 'INBOX']);
      const archive = dv.doveadm(['mailbox', 'status', '-u', USER, 'messages', 'Archive']);
      const got =
        Number(/messages=(\d+)/.exec(inbox.stdout)?.[1]) +
        Number(/messages=(\d+)/.exec(archive.stdout)?.[1]);
      if (got !== COUNT) throw new Error(`Dovecot holds ${got} messages, not ${COUNT}`);
      results.set('dovecot', r);
    }
    if (args.only !== 'dovecot') {
      const setup = await setupLetterbox({
        root,
        dir: join(base, 'letterbox'),
        users: [USER],
        password: PASSWORD,
        maxConnectionsPerIp: 10,
      });
      log('letterbox: letterbox import maildir');
      const r = await measure(
        process.execPath,
        [
          join(root, 'bin', 'letterbox.js'),
          '--config',
          setup.configFile,
          'import',
          'maildir',
          USER,
          src,
        ],
        'letterbox import',
      );
      const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
        imported: number;
        failed: number;
      };
      if (summary.imported !== COUNT || summary.failed !== 0) {
        throw new Error(`letterbox imported ${summary.imported}, failed ${summary.failed}`);
      }
      results.set('letterbox', r);
    }
    for (const [name, r] of results) {
      const rate = COUNT / r.seconds;
      const peer = results.get(name === 'letterbox' ? 'dovecot' : 'letterbox');
      rows.push([
        name,
        String(COUNT),
        fmt(r.seconds),
        fmt(rate, 0),
        fmtBytes(r.rss),
        peer ? fmt(rate / (COUNT / peer.seconds), 2) : '-',
      ]);
    }
    process.stdout.write(
      `\nImport of ${COUNT} messages (${fmtBytes(bytes)}, 80% ~3 KB, 19% ~20 KB, 1% ~200 KB; 2 folders)\n\n`,
    );
    process.stdout.write(
      `${table(['importer', 'messages', 'seconds', 'messages/s', 'peak RSS', 'rate vs peer'], rows)}\n`,
    );
  } finally {
    dv?.stop();
    if (args.keep) log(`kept ${base}`);
    else rmSync(base, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench/import: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
