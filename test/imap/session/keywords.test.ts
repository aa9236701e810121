// New keywords are announced (RFC 3501 §7.2.6, RFC 9051 §7.3.5): when a STORE, APPEND, COPY
// or MOVE puts a keyword on a message that the session's FLAGS list lacks, every session with
// the mailbox selected gets FLAGS and OK [PERMANENTFLAGS] before any FETCH that shows it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { append, type ImapTestEnv, last, message, type RawClient, startImap } from './client.js';

const SYSTEM = '\\Answered \\Flagged \\Deleted \\Seen \\Draft';
const flagsLine = (kw: string) => `* FLAGS (${SYSTEM}${kw ? ` ${kw}` : ''})`;
const permanentLine = (kw: string) =>
  `* OK [PERMANENTFLAGS (${SYSTEM}${kw ? ` ${kw}` : ''} \\*)] Flags permitted`;
const untagged = (r: string[]) => r.slice(0, -1);

describe('IMAP session: new keywords announced (RFC 3501 §7.2.6)', () => {
  let env: ImapTestEnv;
  let box = 0;
  before(async () => {
    env = await startImap();
  });
  after(async () => {
    await env.ts.stop();
  });

  /** Two sessions with a fresh mailbox of n messages selected; \Recent taken beforehand. */
  async function pair(n: number): Promise<[RawClient, RawClient, string]> {
    const a = await env.login();
    const b = await env.login();
    const name = `K${++box}`;
    await a.cmd('c', `CREATE ${name}`);
    for (let i = 1; i <= n; i++) await append(a, name, message(`k${i}`));
    await a.cmd('r', `SELECT ${name}`);
    await a.cmd('u', 'UNSELECT');
    const sa = await a.cmd('s', `SELECT ${name}`);
    assert.ok(sa.includes(flagsLine('')), sa.join('\n'));
    await b.cmd('s', `SELECT ${name}`);
    return [a, b, name];
  }

  test('STORE: the storing session and the other one get FLAGS, then the FETCH', async () => {
    const [a, b, name] = await pair(2);
    assert.deepEqual(untagged(await b.cmd('k', 'STORE 1 +FLAGS ($Label1)')), [
      flagsLine('$Label1'),
      permanentLine('$Label1'),
      '* 1 FETCH (FLAGS ($Label1))',
    ]);
    assert.deepEqual(untagged(await a.cmd('n', 'NOOP')), [
      flagsLine('$Label1'),
      permanentLine('$Label1'),
      '* 1 FETCH (UID 1 FLAGS ($Label1))',
    ]);
    // Known now (keywords are case-insensitive): no FLAGS again, in either session.
    assert.deepEqual(untagged(await b.cmd('k2', 'STORE 2 +FLAGS ($label1)')), [
      '* 2 FETCH (FLAGS ($label1))',
    ]);
    assert.deepEqual(untagged(await a.cmd('n2', 'NOOP')), ['* 2 FETCH (UID 2 FLAGS ($label1))']);
    // Removing it keeps the list as the client has it; a second keyword grows it.
    assert.deepEqual(untagged(await b.cmd('k3', 'STORE 1:2 -FLAGS ($Label1)')), [
      '* 1 FETCH (FLAGS ())',
      '* 2 FETCH (FLAGS ())',
    ]);
    assert.deepEqual(untagged(await b.cmd('k4', 'STORE 1 FLAGS (\\Seen Work)')), [
      flagsLine('$Label1 Work'),
      permanentLine('$Label1 Work'),
      '* 1 FETCH (FLAGS (\\Seen Work))',
    ]);
    const n3 = untagged(await a.cmd('n3', 'NOOP'));
    assert.deepEqual(n3.slice(0, 2), [flagsLine('$Label1 Work'), permanentLine('$Label1 Work')]);
    assert.deepEqual(n3.slice(2).sort(), [
      '* 1 FETCH (UID 1 FLAGS (\\Seen Work))',
      '* 2 FETCH (UID 2 FLAGS ())',
    ]);
    // No message has $Label1 any more, yet a new SELECT still lists it (clients keep it).
    const c = await env.login();
    const sc = await c.cmd('s', `EXAMINE ${name}`);
    assert.ok(sc.includes(flagsLine('$Label1 Work')), sc.join('\n'));
    c.close();
    a.close();
    b.close();
  });

  test('STORE .SILENT still announces the keyword (no FETCH)', async () => {
    const [a, b] = await pair(1);
    assert.deepEqual(untagged(await b.cmd('k', 'STORE 1 +FLAGS.SILENT (Quiet)')), [
      flagsLine('Quiet'),
      permanentLine('Quiet'),
    ]);
    assert.deepEqual(untagged(await a.cmd('n', 'NOOP')), [
      flagsLine('Quiet'),
      permanentLine('Quiet'),
      '* 1 FETCH (UID 1 FLAGS (Quiet))',
    ]);
    a.close();
    b.close();
  });

  test('APPEND, COPY and MOVE bring keywords; FLAGS comes before EXISTS', async () => {
    const [a, b, name] = await pair(1);
    const c = await env.login();
    await append(c, name, message('tagged'), '$Appended');
    const n1 = untagged(await a.cmd('n', 'NOOP'));
    assert.deepEqual(n1, [
      flagsLine('$Appended'),
      permanentLine('$Appended'),
      '* 2 EXISTS',
      '* 1 RECENT',
    ]);
    assert.equal(
      (await a.cmd('f', 'FETCH 2 (FLAGS)'))[0],
      '* 2 FETCH (FLAGS ($Appended \\Recent))',
    );
    // COPY from another mailbox.
    await c.cmd('c', 'CREATE Src');
    await append(c, 'Src', message('copied'), '$Copied \\Flagged');
    await append(c, 'Src', message('moved'), 'Moved');
    await c.cmd('s', 'SELECT Src');
    await c.cmd('cp', `COPY 1 ${name}`);
    const n2 = untagged(await b.cmd('n', 'NOOP'));
    assert.deepEqual(n2.slice(0, 3), [
      flagsLine('$Appended $Copied'),
      permanentLine('$Appended $Copied'),
      '* 3 EXISTS',
    ]);
    await c.cmd('mv', `MOVE 2 ${name}`);
    const n3 = untagged(await b.cmd('n', 'NOOP'));
    assert.deepEqual(n3.slice(0, 3), [
      flagsLine('$Appended $Copied Moved'),
      permanentLine('$Appended $Copied Moved'),
      '* 4 EXISTS',
    ]);
    // A session selecting now gets every keyword in the SELECT's FLAGS.
    const d = await env.login();
    const sd = await d.cmd('s', `EXAMINE ${name}`);
    assert.ok(sd.includes(flagsLine('$Appended $Copied Moved')), sd.join('\n'));
    for (const x of [a, b, c, d]) x.close();
  });

  test('EXAMINE: FLAGS with PERMANENTFLAGS (); IDLE: pushed before the FETCH', async () => {
    const [a, b, name] = await pair(1);
    const e = await env.login();
    await e.cmd('e', `EXAMINE ${name}`);
    e.write('i IDLE\r\n');
    assert.equal(await e.line(), '+ idling');
    await b.cmd('k', 'STORE 1 +FLAGS (Pushed)');
    assert.equal(await e.line(), flagsLine('Pushed'));
    assert.equal(await e.line(), '* OK [PERMANENTFLAGS ()] Flags permitted');
    assert.equal(await e.line(), '* 1 FETCH (UID 1 FLAGS (Pushed))');
    e.write('DONE\r\n');
    assert.match(last(await e.tagged('i')), /^i OK/);
    for (const x of [a, b, e]) x.close();
  });
});
