// How long the benches' own IMAP client (bench/lib/imap-client.ts) takes to read the answer
// to `UID FETCH 1:* (UID FLAGS)` over N messages from a server that has it ready: a fake on
// loopback that sends pre-built bytes. The floor under bench (b)'s FETCH figure at N messages
// whatever the server does (issue 18 item 6: a million messages answer ten times the lines).
//
//   node --import tsx bench/imap/client-read.ts [--count 1000000] [--rounds 5]

import net from 'node:net';
import { parseArgs } from 'node:util';
import { ImapClient } from '../lib/imap-client.js';

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '5' },
  },
});
const count = Number(args.count);

const parts: string[] = [];
let chunk = '';
for (let i = 1; i <= count; i++) {
  chunk += `* ${i} FETCH (UID ${i} FLAGS ())\r\n`;
  if (chunk.length > 65536) {
    parts.push(chunk);
    chunk = '';
  }
}
parts.push(chunk);
const answer = Buffer.from(parts.join(''), 'latin1');

// Answers every tagged command with OK; a FETCH first with the whole answer.
const server = net.createServer((socket) => {
  socket.write('* OK fake\r\n');
  let pending = '';
  socket.on('data', (d) => {
    pending += d.toString('latin1');
    for (let i = pending.indexOf('\r\n'); i >= 0; i = pending.indexOf('\r\n')) {
      const line = pending.slice(0, i);
      pending = pending.slice(i + 2);
      const tag = line.split(' ')[0];
      if (/ FETCH /i.test(line)) socket.write(answer);
      socket.write(`${tag} OK done\r\n`);
    }
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as net.AddressInfo;
const c = await ImapClient.login('127.0.0.1', port, 'user', 'password');
const rounds: Array<{ ms: number; cpuMs: number }> = [];
for (let r = 0; r < Number(args.rounds); r++) {
  let lines = 0;
  c.onUntagged = () => {
    lines++;
  };
  const cpu = process.cpuUsage();
  const t = performance.now();
  await c.command('UID FETCH 1:* (UID FLAGS)', { keep: false });
  const used = process.cpuUsage(cpu);
  if (lines !== count) throw new Error(`read ${lines} lines of ${count}`);
  rounds.push({
    ms: Math.round(performance.now() - t),
    // The fake's writes are in it too (mostly the kernel's copy).
    cpuMs: Math.round((used.user + used.system) / 1000),
  });
}
process.stdout.write(
  `${JSON.stringify({ count, answerMiB: Math.round((answer.length / 2 ** 20) * 10) / 10, rounds })}\n`,
);
await c.logout().catch(() => {});
server.close();
process.exit(0);
