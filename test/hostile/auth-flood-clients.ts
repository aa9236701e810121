// The flood of auth-flood.test.ts, run in a process of its own so that driving 180 clients
// does not load the event loop of the server under test. Usage: PORT; from 127.0.0.10-69,
// three connections each, it logs in to flood-N@example.test (N the source's number, a real
// account, so that every check is a full scrypt) with a wrong password until killed, and
// prints `sent answered` after every answer.
import { imapLogin } from './auth-clients.js';

const port = Number(process.argv[2]);
let sent = 0;
let answered = 0;

async function worker(source: string, w: number): Promise<void> {
  for (let n = 0; ; n++) {
    sent++;
    const reply = await imapLogin(port, source, `flood-${w % 60}@example.test`, `guess ${n}`).catch(
      (err: Error) => `error ${err.message}`,
    );
    answered++;
    if (/^a OK/.test(reply)) throw new Error(`a wrong password was accepted: ${reply}`);
    process.stdout.write(`${sent} ${answered}\n`);
    // Refused at once (locked out, queue full): pause as a client would before retrying.
    if (/UNAVAILABLE|error/.test(reply)) await new Promise((r) => setTimeout(r, 50));
  }
}

for (let i = 0; i < 60 * 3; i++) void worker(`127.0.0.${10 + (i % 60)}`, i);
