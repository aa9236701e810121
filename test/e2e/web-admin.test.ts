// The web admin in a real browser: Debian's chromium, driven by puppeteer-core, against
// `letterbox serve` (built) with the admin token from LETTERBOX_ADMIN_TOKEN. It signs in with
// the token, creates a domain and an account, sees it listed, changes its quota, disables it,
// deletes it, signs out; unlocks an account locked by failed IMAP logins, sets its password,
// makes and revokes an app password (each checked by logging in over IMAP); signs in with an
// admin account; adds and deletes an alias, lists a domain's DNS records, makes, retires and
// deletes a DKIM key, holds, releases, retries and deletes queued mail; and
// sees a wrong token refused. A screenshot of each step is kept under test-artifacts/web-admin/
// (its path is printed).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { BIN, runCli } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/free-port.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TOKEN = 'web-admin-e2e-token-0123456789abcdef';
const NAMES = ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http'];
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/web-admin/', import.meta.url));
/** Generous: two cores shared by many test processes. */
const STEP_MS = 60_000;

describe('web admin in chromium', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  let exited: Promise<number | null>;
  let stderr = '';
  let browser: Browser | undefined;
  let page: Page;
  let base: string;
  const problems: string[] = [];
  const queued: number[] = [];
  let imapPort: number;

  /** An IMAP LOGIN on the plain port (loopback may send passwords): its tagged answer. */
  async function imapLogin(user: string, password: string): Promise<string> {
    const s = net.connect(imapPort, '127.0.0.1');
    s.setEncoding('utf8');
    let buf = '';
    const line = (re: RegExp) =>
      new Promise<string>((resolve, reject) => {
        const look = () => {
          const m = buf.split('\r\n').find((l) => re.test(l));
          if (m === undefined) return false;
          s.off('data', more);
          resolve(m);
          return true;
        };
        const more = (d: string) => {
          buf += d;
          look();
        };
        if (!look()) s.on('data', more);
        s.once('error', reject);
      });
    try {
      await line(/^\* OK/);
      const quote = (v: string) => `"${v.replace(/[\\"]/g, '\\$&')}"`;
      s.write(`a1 LOGIN ${quote(user)} ${quote(password)}\r\n`);
      return await line(/^a1 /);
    } finally {
      s.end('a2 LOGOUT\r\n');
    }
  }

  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `chromium is not installed at ${CHROMIUM}; this test needs it (apt-get install chromium)`,
      );
    }
    dir = await mkdtemp(join(tmpdir(), 'lb-web-admin-'));
    const cfg = join(dir, 'letterbox.toml');
    const init = await runCli(['init', '--dir', dir, '--hostname', 'localhost']);
    assert.equal(init.code, 0, init.stderr);
    let toml = await readFile(cfg, 'utf8');
    const ports: Record<string, number> = {};
    for (const n of NAMES) {
      ports[n] = await freePort();
      toml = toml.replace(
        new RegExp(`(\\[listeners\\.${n}\\][^\\[]*?port = )\\d+`),
        `$1${ports[n]}`,
      );
    }
    // The queue keeps its mail (no worker), so what the page shows of it stays put.
    toml = toml.replace(/^deliver = true\b/m, 'deliver = false');
    assert.match(toml, /^deliver = false/m);
    // Two failed logins lock an account, so that the page has one to unlock.
    toml = toml.replace(/^max_failures_per_account = \d+/m, 'max_failures_per_account = 2');
    assert.match(toml, /^max_failures_per_account = 2\b/m);
    await writeFile(cfg, toml);
    // Two messages waiting for another domain, put in before the server starts.
    const store = await SqliteStore.open({ dir });
    for (const subject of ['first', 'second']) {
      queued.push(
        await store.enqueueOutbound({
          sender: 'sender@example.test',
          recipients: [{ address: `${subject}@remote.test` }],
          raw: Buffer.from(`Subject: ${subject}\r\n\r\nhi\r\n`),
        }),
      );
    }
    await store.close();
    child = spawn(process.execPath, [BIN, '--config', cfg, 'serve'], {
      env: { ...process.env, LETTERBOX_ADMIN_TOKEN: TOKEN },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    exited = new Promise((r) => child!.on('exit', (code) => r(code)));
    base = `http://127.0.0.1:${ports.http}`;
    imapPort = ports.imap!;
    await eventually(
      async () => {
        if (child!.exitCode !== null) throw new Error(`serve exited:\n${stderr}`);
        try {
          return (await fetch(`${base}/readyz`)).status === 200;
        } catch {
          return false;
        }
      },
      'serve ready',
      STEP_MS,
    );

    await mkdir(ARTIFACTS, { recursive: true });
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      // Chromium's sandbox cannot start as root (CI containers); a temp profile per run; a
      // container's small /dev/shm is not used for shared memory.
      args: [
        ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
        '--no-first-run',
        '--disable-dev-shm-usage',
      ],
      userDataDir: join(dir, 'chromium-profile'),
      timeout: 120_000,
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    page.setDefaultTimeout(STEP_MS);
    // Anything the page's script throws, or a policy violation, fails the test at its end.
    page.on('pageerror', (err) => problems.push(`page error: ${String(err)}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content.Security.Policy|Refused/i.test(m.text())) {
        problems.push(`console: ${m.text()}`);
      }
    });
    page.on('dialog', (d) => void d.accept());
    // No answer of the API the page reads may be stored by the browser.
    page.on('response', (r) => {
      const cc = r.headers()['cache-control'] ?? '';
      if (r.url().includes('/api/v1/') && !/\bno-store\b/.test(cc)) {
        problems.push(`${r.request().method()} ${r.url()}: cache-control ${cc}`);
      }
    });
  });

  after(async () => {
    await browser?.close();
    child?.kill('SIGTERM');
    if (child) assert.equal(await exited, 0, stderr);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A screenshot of the page as it is, kept for the test's reader. */
  async function shot(name: string): Promise<void> {
    const path = join(ARTIFACTS, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    console.log(`screenshot: ${path}`);
  }

  /** Controls without an accessible name in chromium's accessibility tree (a missing label). */
  async function unnamedControls(): Promise<string[]> {
    type AxNode = { role: string; name?: string; children?: AxNode[] };
    const roles = new Set(['textbox', 'combobox', 'checkbox', 'button', 'link']);
    const out: string[] = [];
    const walk = (n: AxNode | null | undefined) => {
      if (!n) return;
      if (roles.has(n.role) && !n.name?.trim()) out.push(n.role);
      for (const c of n.children ?? []) walk(c);
    };
    walk((await page.accessibility.snapshot()) as AxNode | null);
    return out;
  }

  /**
   * Runs a step; when it fails, the screenshot shows where. After it, every control the view
   * shows has an accessible name.
   */
  async function step(name: string, body: () => Promise<void>): Promise<void> {
    try {
      await body();
      assert.deepEqual(await unnamedControls(), [], `unnamed controls after ${name}`);
    } catch (err) {
      await shot(`failed-${name}`).catch(() => {});
      throw err;
    }
    await shot(name);
  }

  // The callbacks run in the page; test/ is compiled without the DOM's types, so what they
  // read is typed here by hand.
  type Cell = { textContent: string | null };

  /** The cells' text of each row of a table body. */
  const rows = (table: string) =>
    page.$$eval(`#${table} tbody tr`, (trs) =>
      trs.map((tr) => [...(tr as unknown as { cells: Cell[] }).cells].map((c) => c.textContent)),
    );

  /** The text of an element. */
  const text = (selector: string) =>
    page.$eval(selector, (e) => (e as unknown as Cell).textContent ?? '');

  /** A JavaScript expression run in the page. */
  const inPage = <T>(expr: string) => page.evaluate(expr) as Promise<T>;

  /** Waits until the element's text contains `want`, or (`absent`) no longer does. */
  const waitText = (selector: string, want: string, absent = false) =>
    page.waitForFunction(
      `${absent ? '!' : ''}(document.querySelector(${JSON.stringify(selector)})?.textContent ?? '').includes(${JSON.stringify(want)})`,
    );

  const visible = (id: string) => page.waitForSelector(`#${id}:not([hidden])`, { visible: true });

  /** The page opened afresh, signed out (each test starts here, whatever the last one left). */
  async function signedOutPage(): Promise<void> {
    await page.goto(`${base}/admin/`);
    await inPage('sessionStorage.clear()');
    await page.reload();
    await visible('view-signin');
  }

  /** Follows a link to another view and waits until the page has filled it. */
  async function follow(selector: string): Promise<void> {
    await page.click(selector);
    await page.waitForSelector('main:not([aria-busy])');
  }

  /** Clears a field and types into it, as a person would. */
  async function fill(selector: string, value: string): Promise<void> {
    await page.click(selector, { count: 3 });
    await page.keyboard.press('Backspace');
    await page.type(selector, value);
  }

  test('sign in with the token; domain and account created, listed, changed, deleted', async () => {
    await step('signin-page', async () => {
      await signedOutPage();
      // The form is reachable by its label (accessible name), not only by id.
      await page.locator('::-p-aria(Admin token)').fill(TOKEN);
      await page.click('#signin-token button[type=submit]');
      await visible('view-domains');
      await waitText('#who', 'Signed in with the admin token');
    });
    // The token itself is not kept by the page, only the session the API gave for it.
    const stored = await inPage<string>('JSON.stringify({ ...sessionStorage })');
    assert.match(stored, /"letterbox\.admin\.session":/);
    assert.ok(!stored.includes(TOKEN));
    assert.equal(await inPage<number>('localStorage.length'), 0);

    await step('domain-created', async () => {
      await fill('#domain-name', 'web.example.test');
      await page.click('#domain-add button[type=submit]');
      await waitText('#domains-table tbody', 'web.example.test');
      await waitText('#notice', 'Added the domain web.example.test');
    });
    // The API's refusals are shown in its own words: a second add (409), a bad name (400 with
    // the field's issue). The API says the same to a direct request.
    const direct = async (name: string) => {
      const r = await fetch(`${base}/api/v1/domains`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      });
      const body = (await r.json()) as {
        message: string;
        issues?: { path: string; message: string }[];
      };
      return { status: r.status, body };
    };
    for (const [name, status] of [
      ['web.example.test', 409],
      ['not a domain', 400],
    ] as const) {
      await fill('#domain-name', name);
      await page.click('#domain-add button[type=submit]');
      await visible('error');
      const shown = await text('#error');
      const api = await direct(name);
      assert.equal(api.status, status);
      assert.ok(shown.startsWith(api.body.message), `${shown} / ${api.body.message}`);
      // Each issue named once, in the message or after it.
      for (const i of api.body.issues ?? []) {
        assert.equal(shown.split(`${i.path}: ${i.message}`).length, 2, shown);
      }
      if (status === 400) assert.ok((api.body.issues ?? []).length > 0);
    }
    await shot('domain-refused');

    await step('account-created', async () => {
      await follow('nav a[href="#/accounts"]');
      await visible('view-accounts');
      await fill('#account-address', 'alice@web.example.test');
      await fill('#account-password', 'alice web admin password');
      await fill('#account-quota', '2G');
      await page.click('#account-add button[type=submit]');
      await waitText('#accounts-table tbody', 'alice@web.example.test');
    });
    assert.deepEqual(await rows('accounts-table'), [
      ['alice@web.example.test', '2 GiB', '0 B', 'active', 'no'],
    ]);
    // The form is emptied once the account exists: the password is not left in the page.
    assert.equal(await inPage<string>("document.querySelector('#account-password').value"), '');

    await step('account-quota', async () => {
      await follow('#accounts-table a[href="#/account/alice%40web.example.test"]');
      await visible('view-account');
      await waitText('#account-facts', 'alice@web.example.test');
      await fill('#account-new-quota', '500M');
      await page.click('#account-quota-form button[type=submit]');
      await waitText('#account-facts', '500 MiB');
    });

    await step('account-pop3', async () => {
      await page.select('#account-pop3-policy', 'keep');
      await page.click('#account-pop3-form button[type=submit]');
      await waitText('#account-facts', 'POP3 deletes' + 'keep');
    });
    await step('account-disabled', async () => {
      await page.click('#account-disable');
      await waitText('#account-facts', 'disabled');
      await visible('account-enable');
    });
    const api = await fetch(`${base}/api/v1/accounts/alice%40web.example.test`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const account = (await api.json()) as { quota: number; disabled: boolean; pop3Policy: string };
    assert.deepEqual(
      { quota: account.quota, disabled: account.disabled, pop3Policy: account.pop3Policy },
      { quota: 500 * 1024 * 1024, disabled: true, pop3Policy: 'keep' },
    );

    await step('account-deleted', async () => {
      await page.click('#account-delete');
      await visible('view-accounts');
      await waitText('#notice', 'Deleted the account alice@web.example.test');
      await waitText('#accounts-table tbody', 'alice@', true);
    });
    const gone = await fetch(`${base}/api/v1/accounts/alice%40web.example.test`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(gone.status, 404);

    await step('signed-out', async () => {
      await page.click('#sign-out');
      await visible('view-signin');
      await waitText('#notice', 'Signed out');
    });
    assert.equal(await inPage<number>('sessionStorage.length'), 0);
  });

  test('a locked account unlocked, and a new password set, from the page', async () => {
    const cli = (args: string[], input = '') =>
      runCli(['--config', join(dir, 'letterbox.toml'), ...args], { input });
    for (const r of [
      await cli(['domain', 'add', 'locks.example.test']),
      await cli(['user', 'add', 'carol@locks.example.test', '--password-stdin'], 'carol first\n'),
    ]) {
      assert.equal(r.code, 0, r.stderr);
    }
    // Two wrong passwords ([auth] max_failures_per_account = 2) lock the account.
    for (let i = 0; i < 2; i++) {
      assert.match(await imapLogin('carol@locks.example.test', 'wrong'), /^a1 NO/);
    }
    assert.match(await imapLogin('carol@locks.example.test', 'carol first'), /^a1 NO/);

    await signedOutPage();
    await fill('#token', TOKEN);
    await page.click('#signin-token button[type=submit]');
    await visible('view-domains');
    await step('account-locked', async () => {
      await page.goto(`${base}/admin/#/account/carol%40locks.example.test`);
      await visible('view-account');
      await waitText('#account-facts', 'active, locked');
      await visible('account-unlock');
    });
    await step('account-unlocked', async () => {
      await page.click('#account-unlock');
      await waitText('#notice', 'Unlocked carol@locks.example.test');
      await waitText('#account-facts', 'locked', true);
    });
    assert.equal(await inPage<boolean>("document.querySelector('#account-unlock').hidden"), true);
    assert.match(await imapLogin('carol@locks.example.test', 'carol first'), /^a1 OK/);

    await step('account-password', async () => {
      await fill('#account-new-password', 'carol second password');
      await page.click('#account-password-form button[type=submit]');
      await waitText('#notice', 'Set a new password for carol@locks.example.test');
    });
    assert.equal(await inPage<string>("document.querySelector('#account-new-password').value"), '');
    assert.match(await imapLogin('carol@locks.example.test', 'carol second password'), /^a1 OK/);
    assert.match(await imapLogin('carol@locks.example.test', 'carol first'), /^a1 NO/);

    await step('app-password', async () => {
      await fill('#app-password-name', 'phone');
      await page.click('#app-password-add button[type=submit]');
      await visible('app-password-new');
      await waitText('#app-passwords-table tbody', 'phone');
    });
    const appPassword = await inPage<string>(
      "document.querySelector('#app-password-new-value').textContent",
    );
    assert.ok(appPassword.length >= 16, appPassword);
    assert.match(await imapLogin('carol@locks.example.test', appPassword), /^a1 OK/);
    const [appRow] = await rows('app-passwords-table');
    assert.deepEqual([appRow?.[0], appRow?.[2]], ['phone', 'never']);
    await step('app-password-revoked', async () => {
      await page.click('button[aria-label="Revoke app password phone"]');
      await waitText('#notice', 'Revoked the app password phone');
      await waitText('#app-passwords-table tbody', 'No app passwords.');
    });
    assert.match(await imapLogin('carol@locks.example.test', appPassword), /^a1 NO/);
    // Shown once: a new visit to the account does not show it again.
    await follow('nav a[href="#/accounts"]');
    await follow('#accounts-table a[href="#/account/carol%40locks.example.test"]');
    await waitText('#app-passwords-table tbody', 'No app passwords.');
    assert.equal(await inPage<boolean>("document.querySelector('#app-password-new').hidden"), true);
    assert.equal(
      await inPage<string>("document.querySelector('#app-password-new-value').textContent"),
      '',
    );
    await page.click('#sign-out');
    await visible('view-signin');
  });

  test('sign in with an admin account; an account without the role is refused', async () => {
    const cli = (args: string[], input = '') =>
      runCli(['--config', join(dir, 'letterbox.toml'), ...args], { input });
    for (const r of [
      await cli(['domain', 'add', 'boss.example.test']),
      await cli(
        ['user', 'add', 'boss@boss.example.test', '--admin', '--password-stdin'],
        'boss web admin password\n',
      ),
      await cli(
        ['user', 'add', 'staff@boss.example.test', '--password-stdin'],
        'staff password here\n',
      ),
    ]) {
      assert.equal(r.code, 0, r.stderr);
    }
    await step('account-not-admin', async () => {
      await signedOutPage();
      await fill('#signin-username', 'staff@boss.example.test');
      await fill('#signin-password', 'staff password here');
      await page.click('#signin-account button[type=submit]');
      await waitText(
        '#error',
        'Wrong address or password, or the account is not an administrator.',
      );
    });
    assert.equal(await inPage<number>('sessionStorage.length'), 0);
    assert.equal(await inPage<boolean>("document.querySelector('#nav').hidden"), true);
    // The password field does not keep what was typed.
    assert.equal(await inPage<string>("document.querySelector('#signin-password').value"), '');
    await step('account-signin', async () => {
      await signedOutPage();
      await fill('#signin-username', 'boss@boss.example.test');
      await fill('#signin-password', 'boss web admin password');
      await page.click('#signin-account button[type=submit]');
      await visible('view-domains');
      await waitText('#who', 'Signed in as boss@boss.example.test');
      await waitText('#domains-table tbody', 'boss.example.test');
    });
    await page.click('#sign-out');
    await visible('view-signin');
  });

  test('aliases, DNS records and the queue', async () => {
    await signedOutPage();
    await fill('#token', TOKEN);
    await page.click('#signin-token button[type=submit]');
    await visible('view-domains');
    await fill('#domain-name', 'lists.example.test');
    await page.click('#domain-add button[type=submit]');
    await waitText('#domains-table tbody', 'lists.example.test');

    await step('alias-created', async () => {
      await follow('nav a[href="#/aliases"]');
      await visible('view-aliases');
      await fill('#alias-address', 'team@lists.example.test');
      await fill('#alias-targets', 'one@elsewhere.test, two@elsewhere.test');
      await page.click('#alias-add button[type=submit]');
      await waitText('#aliases-table tbody', 'team@lists.example.test');
    });
    // The domain filter: the choice goes into the location, the list is the domain's only.
    await page.select('#aliases-domain', 'lists.example.test');
    await page.click('#aliases-filter button[type=submit]');
    await page.waitForFunction("location.hash === '#/aliases?domain=lists.example.test'");
    await page.waitForSelector('main:not([aria-busy])');
    await waitText('#aliases-table tbody', 'team@lists.example.test');
    const aliasRows = await rows('aliases-table');
    assert.ok(
      aliasRows.every((r) => r[0]?.endsWith('@lists.example.test')),
      JSON.stringify(aliasRows),
    );
    assert.deepEqual(aliasRows.find((r) => r[0] === 'team@lists.example.test')?.slice(0, 2), [
      'team@lists.example.test',
      'one@elsewhere.test, two@elsewhere.test',
    ]);
    await step('alias-deleted', async () => {
      await page.click('button[aria-label="Delete alias team@lists.example.test"]');
      await waitText('#notice', 'Deleted the alias team@lists.example.test');
      await waitText('#aliases-table tbody', 'team@lists.example.test', true);
    });

    await step('dns-records', async () => {
      await follow('nav a[href="#/domains"]');
      await visible('view-domains');
      await follow('#domains-table a[href="#/dns/lists.example.test"]');
      await visible('view-dns');
      await waitText('#dns-title', 'DNS records of lists.example.test');
      await waitText('#dns-table tbody', 'MX');
    });
    // Not looked up until asked: each record is listed with its status "unchecked".
    const dns = await rows('dns-table');
    assert.ok(dns.length >= 3, JSON.stringify(dns));
    assert.ok(
      dns.some((r) => r[0] === 'MX' && r[4] === 'unchecked'),
      JSON.stringify(dns),
    );
    assert.ok(
      dns.some((r) => r[0] === 'TXT' && /spf1/.test(r[2] ?? '')),
      JSON.stringify(dns),
    );
    await waitText('#dkim-table tbody', 'No DKIM keys');

    // A DKIM key made from the page: listed as signing, its record in the DNS table; retired,
    // then deleted.
    await step('dkim-key', async () => {
      await page.select('#dkim-algorithm', 'ed25519');
      await page.click('#dkim-add button[type=submit]');
      await waitText('#notice', 'Made the DKIM key');
      await waitText('#dkim-table tbody', 'signing');
      await waitText('#dns-table tbody', 'k=ed25519');
    });
    const [key] = await rows('dkim-table');
    assert.equal(key?.[1], 'ed25519');
    const selector = key![0]!;
    const dkimRecord = (await rows('dns-table')).find((r) => r[1]?.startsWith(`${selector}.`));
    assert.match(dkimRecord?.[2] ?? '', /^v=DKIM1; k=ed25519; p=/);
    await page.click(`button[aria-label="Retire DKIM key ${selector}"]`);
    await waitText('#dkim-table tbody', 'retired');
    await step('dkim-key-deleted', async () => {
      await page.click(`button[aria-label="Delete DKIM key ${selector}"]`);
      await waitText('#dkim-table tbody', 'No DKIM keys');
    });

    const [first, second] = queued as [number, number];
    const row = async (id: number) => (await rows('queue-table')).find((r) => r[0] === String(id));
    await step('queue-listed', async () => {
      await follow('nav a[href="#/queue"]');
      await visible('view-queue');
      await waitText('#queue-table tbody', 'second@remote.test');
    });
    assert.deepEqual((await row(first))?.slice(0, 4), [
      String(first),
      'sender@example.test',
      'first@remote.test',
      'pending',
    ]);
    await step('queue-held', async () => {
      await page.click(`button[aria-label="Hold message ${first}"]`);
      await waitText('#notice', `Held message ${first}.`);
      await page.waitForSelector(`button[aria-label="Release message ${first}"]`);
    });
    assert.equal((await row(first))?.[3], 'held');
    await page.click(`button[aria-label="Release message ${first}"]`);
    await page.waitForSelector(`button[aria-label="Hold message ${first}"]`);
    assert.equal((await row(first))?.[3], 'pending');
    await page.click(`button[aria-label="Retry message ${first}"]`);
    await waitText('#notice', `Retrying message ${first}.`);
    // Held, the first waits; the second is due with the rest.
    await page.click(`button[aria-label="Hold message ${first}"]`);
    await page.waitForSelector(`button[aria-label="Release message ${first}"]`);
    await page.click('#queue-flush');
    await waitText('#notice', '1 message is due now (held ones wait).');
    await page.click(`button[aria-label="Release message ${first}"]`);
    await page.waitForSelector(`button[aria-label="Hold message ${first}"]`);
    await step('queue-deleted', async () => {
      await page.click(`button[aria-label="Delete message ${second}"]`);
      await waitText('#notice', `Deleted message ${second} from the queue`);
      await waitText('#queue-table tbody', 'second@remote.test', true);
    });
    const api = await fetch(`${base}/api/v1/queue`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const { items } = (await api.json()) as { items: { id: number }[] };
    assert.deepEqual(
      items.map((i) => i.id),
      [first],
    );
    await page.click('#sign-out');
    await visible('view-signin');
  });

  test('a session ended elsewhere sends the page back to the sign-in form', async () => {
    await signedOutPage();
    await fill('#token', TOKEN);
    await page.click('#signin-token button[type=submit]');
    await visible('view-domains');
    const session = await inPage<string>("sessionStorage.getItem('letterbox.admin.session')");
    const end = await fetch(`${base}/api/v1/session`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${session}` },
    });
    assert.equal(end.status, 204);
    await step('session-ended', async () => {
      await follow('nav a[href="#/queue"]');
      await visible('view-signin');
      await waitText('#error', 'Your session ended: sign in again.');
    });
    assert.equal(await inPage<number>('sessionStorage.length'), 0);
  });

  test('a wrong token is refused with a visible error, and nothing is kept', async () => {
    await step('wrong-token', async () => {
      await signedOutPage();
      await fill('#token', 'not-the-admin-token');
      await page.click('#signin-token button[type=submit]');
      await visible('error');
      await waitText('#error', 'That is not the admin token.');
    });
    assert.equal(await inPage<boolean>("document.querySelector('#view-signin').hidden"), false);
    assert.equal(await inPage<boolean>("document.querySelector('#nav').hidden"), true);
    assert.equal(await inPage<number>('sessionStorage.length'), 0);
    assert.deepEqual(problems, []);
  });
});
