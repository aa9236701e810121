// What an append costs PostgreSQL under light load (issue 17): one append at a time with
// --gap milliseconds of nothing before each (longer than the pool's idle timeout, 10 s, by
// default), against the same with 500 ms between them, through the PostgreSQL store; the
// CPU of the postmaster's tree with the idle cluster's own (measured over the same gaps
// without appends) taken off. Usage:
//   node --import tsx bench/scale/light-load.ts [--gap 11000] [--samples 8]
// CPU times come in clock ticks (10 ms): read the figures to about 10 / samples ms.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { indexMessage } from '../../src/delivery/local.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { messageTemplate } from '../lib/message.js';
import { startPostgres } from '../lib/postgres.js';
import { treeCpuWithChildrenMs, waitIdle } from '../outbound/cpu.js';

const { values: args } = parseArgs({
  options: {
    gap: { type: 'string', default: '11000' },
    samples: { type: 'string', default: '8' },
  },
});
const gap = Number(args.gap);
const k = Number(args.samples);

const base = mkdtempSync(join(tmpdir(), 'letterbox-light-load-'));
// PostgreSQL's unprivileged processes must be able to search down to its directory.
chmodSync(base, 0o755);
const db = await startPostgres(join(base, 'pg'));
process.on('exit', () => {
  db.stop();
  rmSync(base, { recursive: true, force: true });
});
const store = await PostgresStore.open({ connectionString: db.url, max: 10 });
await store.addDomain('bench.test');
const account = await store.createAccount({ address: 'a@bench.test', passwordHash: 'x' });
const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
const template = messageTemplate({
  size: 10240,
  from: 's@bench.test',
  to: 'a@bench.test',
  tag: 'light',
});
let serial = 0;
const one = async () => {
  const raw = Buffer.concat([template.header(serial++), template.wireBody]);
  await store.append({ raw, index: indexMessage(raw) }, [{ mailboxId: inbox.id }]);
};
// Warm: the statements planned, the table not empty.
await Promise.all(
  Array.from({ length: 4 }, async () => {
    for (let i = 0; i < 50; i++) await one();
  }),
);
const pid = db.postmasterPid()!;
await waitIdle(pid, { minMs: 1000 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** CPU of PostgreSQL over k rounds of `ms` idle, each followed by one append when `append`. */
async function phase(ms: number, append: boolean): Promise<number> {
  const c0 = treeCpuWithChildrenMs(pid);
  for (let i = 0; i < k; i++) {
    await sleep(ms);
    if (append) await one();
  }
  await sleep(1000);
  return treeCpuWithChildrenMs(pid) - c0;
}
const idle = await phase(gap, false);
const cold = await phase(gap, true);
const warm = await phase(500, true);
const idleShort = (idle / (k * gap + 1000)) * (k * 500 + 1000);
process.stdout.write(
  `PostgreSQL CPU per append, one at a time: after ${gap} ms idle ` +
    `${((cold - idle) / k).toFixed(2)} ms, after 500 ms ${((warm - idleShort) / k).toFixed(2)} ms ` +
    `(idle cluster: ${((idle / (k * gap + 1000)) * 1000).toFixed(2)} ms per second)\n`,
);
await store.close();
process.exit(0);
