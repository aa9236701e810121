// [auth] plaintext_networks with real clients on loopback (issue 16, item 6). The server
// trusts 127.0.0.1 only; a client bound to 127.0.0.2 stands for a host elsewhere. From the
// inside, IMAP CAPABILITY offers AUTH= (no LOGINDISABLED), POP3 CAPA offers USER and SASL,
// EHLO on submission offers AUTH, and curl and swaks log in without TLS. From the outside,
// the same listeners say LOGINDISABLED, leave USER/SASL and AUTH out, refuse a password
// without TLS (RFC 8314 §3), and the same clients succeed once they use STARTTLS / STLS.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { requireTool, run } from './smtp-clients.js';

const USER = 'paula@example.test';
const PASS = 'paula password';
const INSIDE = '127.0.0.1';
const OUTSIDE = '127.0.0.2';

/** A line-oriented conversation from a chosen source address. */
class Line {
  private buf = '';
  private waiters: Array<() => void> = [];
  private closed = false;
  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buf += d;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async open(port: number, localAddress: string): Promise<Line> {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new Line(socket);
  }

  /** Lines up to and including the first that `end` accepts. */
  async until(end: (line: string) => boolean): Promise<string[]> {
    const deadline = Date.now() + 10_000;
    const out: string[] = [];
    for (;;) {
      const nl = this.buf.indexOf('\r\n');
      if (nl >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 2);
        out.push(line);
        if (end(line)) return out;
        continue;
      }
      if (this.closed || Date.now() > deadline) {
        throw new Error(`no end line; got ${JSON.stringify(out)} + ${JSON.stringify(this.buf)}`);
      }
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  send(line: string): void {
    this.socket.write(`${line}\r\n`);
  }

  close(): void {
    this.socket.destroy();
  }
}

describe('plaintext_networks: what each source may do without TLS', () => {
  let t: TestServer;
  before(async () => {
    requireTool('curl', 'apt-get install curl');
    requireTool('swaks', 'apt-get install swaks');
    t = await startTestServer({
      listeners: ['imap', 'pop3', 'submission'],
      plaintextNetworks: ['127.0.0.1/32'],
      extraToml: '[smtp]\ngreet_delay_ms = 0\n',
    });
    await t.addUser(USER, PASS);
  });
  after(() => t.stop());

  async function imapCapability(from: string): Promise<{ caps: string[]; login: string }> {
    const c = await Line.open(t.port('imap'), from);
    await c.until(() => true);
    c.send('a CAPABILITY');
    const lines = await c.until((l) => l.startsWith('a '));
    c.send(`b LOGIN ${USER} "${PASS}"`);
    const login = (await c.until((l) => l.startsWith('b '))).at(-1)!;
    c.close();
    const caps = lines
      .find((l) => l.startsWith('* CAPABILITY '))!
      .split(' ')
      .slice(2);
    return { caps, login };
  }

  test('IMAP: AUTH= and LOGIN inside; LOGINDISABLED and PRIVACYREQUIRED outside', async () => {
    const inside = await imapCapability(INSIDE);
    assert.ok(inside.caps.includes('AUTH=PLAIN') && inside.caps.includes('AUTH=LOGIN'));
    assert.ok(!inside.caps.includes('LOGINDISABLED'));
    assert.ok(inside.caps.includes('STARTTLS'));
    assert.match(inside.login, /^b OK /);
    const outside = await imapCapability(OUTSIDE);
    assert.ok(outside.caps.includes('LOGINDISABLED'), outside.caps.join(' '));
    assert.ok(!outside.caps.some((c) => c.startsWith('AUTH=')));
    assert.ok(outside.caps.includes('STARTTLS'));
    assert.equal(outside.login, 'b NO [PRIVACYREQUIRED] Use STARTTLS first');
  });

  async function pop3Capa(from: string): Promise<{ capa: string[]; user: string }> {
    const c = await Line.open(t.port('pop3'), from);
    await c.until(() => true);
    c.send('CAPA');
    const capa = (await c.until((l) => l === '.')).slice(1, -1);
    c.send(`USER ${USER}`);
    const user = (await c.until(() => true))[0]!;
    c.close();
    return { capa, user };
  }

  test('POP3: USER and SASL in CAPA inside; only STLS outside, USER refused', async () => {
    const inside = await pop3Capa(INSIDE);
    assert.ok(inside.capa.includes('USER'), inside.capa.join('|'));
    assert.ok(inside.capa.includes('SASL PLAIN LOGIN'));
    assert.ok(inside.capa.includes('STLS'));
    assert.match(inside.user, /^\+OK/);
    const outside = await pop3Capa(OUTSIDE);
    assert.ok(!outside.capa.includes('USER'), outside.capa.join('|'));
    assert.ok(!outside.capa.some((c) => c.startsWith('SASL')));
    assert.ok(outside.capa.includes('STLS'));
    assert.match(outside.user, /^-ERR /);
  });

  async function ehlo(from: string): Promise<{ keywords: string[]; mail: string }> {
    const c = await Line.open(t.port('submission'), from);
    await c.until((l) => l.startsWith('220 '));
    c.send('EHLO client.test');
    const lines = await c.until((l) => l.startsWith('250 '));
    c.send(`MAIL FROM:<${USER}>`);
    const mail = (await c.until(() => true))[0]!;
    c.close();
    return { keywords: lines.slice(1).map((l) => l.slice(4)), mail };
  }

  test('SMTP submission: EHLO offers AUTH inside only; MAIL says 530 either way', async () => {
    const inside = await ehlo(INSIDE);
    assert.ok(inside.keywords.includes('AUTH PLAIN LOGIN'), inside.keywords.join('|'));
    assert.match(inside.mail, /^530 5\.7\.0 Authentication required/);
    const outside = await ehlo(OUTSIDE);
    assert.ok(!outside.keywords.some((k) => k.startsWith('AUTH')), outside.keywords.join('|'));
    assert.ok(outside.keywords.includes('STARTTLS'));
    assert.match(outside.mail, /^530 5\.7\.0 Must issue a STARTTLS command first/);
  });

  const curl = (from: string, url: string, tls: boolean) =>
    run('curl', [
      '-sS',
      '--max-time',
      '15',
      '--interface',
      from,
      '-u',
      `${USER}:${PASS}`,
      ...(tls ? ['--ssl-reqd', '-k'] : []),
      url,
    ]);

  test('curl IMAP and POP3: cleartext login inside; outside only with STARTTLS / STLS', async () => {
    for (const [proto, port] of [
      ['imap', t.port('imap')],
      ['pop3', t.port('pop3')],
    ] as const) {
      const url = `${proto}://127.0.0.1:${port}/`;
      const inside = await curl(INSIDE, url, false);
      assert.equal(inside.code, 0, `${proto} inside: ${inside.stderr}`);
      const outside = await curl(OUTSIDE, url, false);
      assert.notEqual(outside.code, 0, `${proto} outside without TLS: ${outside.stdout}`);
      const upgraded = await curl(OUTSIDE, url, true);
      assert.equal(upgraded.code, 0, `${proto} outside with TLS: ${upgraded.stderr}`);
    }
  });

  const swaks = (from: string, tls: boolean) =>
    run('swaks', [
      '--server',
      '127.0.0.1',
      '--port',
      String(t.port('submission')),
      '--local-interface',
      from,
      '--ehlo',
      'swaks.test',
      '--from',
      USER,
      '--to',
      USER,
      '--auth',
      'PLAIN',
      '--auth-user',
      USER,
      '--auth-password',
      PASS,
      ...(tls ? ['--tls'] : []),
    ]);

  test('swaks AUTH PLAIN: without TLS inside; outside only with STARTTLS', async () => {
    const inside = await swaks(INSIDE, false);
    assert.equal(inside.code, 0, inside.stdout + inside.stderr);
    assert.match(inside.stdout, /235 2\.7\.0/);
    const outside = await swaks(OUTSIDE, false);
    assert.notEqual(outside.code, 0);
    assert.doesNotMatch(outside.stdout, /235 /);
    const upgraded = await swaks(OUTSIDE, true);
    assert.equal(upgraded.code, 0, upgraded.stdout + upgraded.stderr);
    assert.match(upgraded.stdout, /235 2\.7\.0/);
  });
});
