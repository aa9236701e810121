// @ts-check
// The web admin: the page's views (index.html) filled from the admin API, /api/v1 on the same
// listener. Plain browser JavaScript shipped as it is, no build step; type-checked by
// tsconfig.web.json (`// @ts-check` and JSDoc types).
//
// The session string the API returns at sign-in is the only credential kept, in sessionStorage
// (gone with the tab); the admin token and passwords are read from their fields, sent once in
// a JSON body and cleared. Nothing is written into the page as HTML: every value from the API
// goes in as text.

const API = '/api/v1';
const SESSION_KEY = 'letterbox.admin.session';

/** @typedef {{ name: string, accounts: number, aliases: number }} Domain */
/** @typedef {{ address: string, quota: number | null, used: number, disabled: boolean, locked: boolean, admin: boolean, pop3Policy?: string }} Account */
/** @typedef {{ address: string, targets: string[] }} Alias */
/** @typedef {{ type: string, name: string, value: string | null, purpose: string, status: string, found?: string[], note?: string }} DnsRecord */
/** @typedef {{ selector: string, algorithm: string, state: string, created: string }} DkimKey */
/** @typedef {{ name: string, created: string, lastUsed: string | null }} AppPassword */
/** @typedef {{ id: string | number, from: string, to: string[], state: string, attempts: number, nextAttempt: string | null, lastError: string | null, size: number, age: number }} QueueItem */

/** An answer of the API that is not a success, with the API's own words. */
class ApiError extends Error {
  /**
   * @param {number} status
   * @param {{ error?: string, message?: string, issues?: { path?: unknown, message?: string }[] } | null} body
   */
  constructor(status, body) {
    const issues = (body?.issues ?? [])
      .map((i) => {
        const path = Array.isArray(i.path) ? i.path.join('.') : String(i.path ?? '');
        return path ? `${path}: ${i.message ?? ''}` : (i.message ?? '');
      })
      .filter((s) => s !== '');
    const text = body?.message ?? body?.error ?? `HTTP ${status}`;
    // The issues the message does not already name, after it.
    const more = issues.filter((i) => !text.includes(i));
    super(more.length > 0 ? `${text} (${more.join('; ')})` : text);
    this.status = status;
    /** Set when the answer ended the session: the sign-in form already says so. */
    this.signedOut = false;
  }
}

// ---- the session ----------------------------------------------------------------------------

/** @returns {string | null} */
function session() {
  return sessionStorage.getItem(SESSION_KEY);
}

/**
 * One call of the API: JSON in, JSON (or nothing, 204) out, never cached. A 401 on any call
 * but the sign-in itself ends the session and shows the sign-in form.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  const token = session();
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(API + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
    credentials: 'omit',
    redirect: 'error',
  });
  const text = await res.text();
  /** @type {any} */
  let data = null;
  if (text !== '') {
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: `HTTP ${res.status}: not JSON` };
    }
  }
  if (!res.ok) {
    if (res.status === 401 && path !== '/session') {
      sessionStorage.removeItem(SESSION_KEY);
      showSignIn('Your session ended: sign in again.');
      const err = new ApiError(401, data);
      err.signedOut = true;
      throw err;
    }
    throw new ApiError(res.status, data);
  }
  return data;
}

/** @param {string} s */
const enc = (s) => encodeURIComponent(s);

// ---- the page -------------------------------------------------------------------------------

/**
 * An element of the page by id, of the type asked for.
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
function $(id, type) {
  const e = document.getElementById(id);
  if (!(e instanceof type)) throw new Error(`#${id} missing`);
  return e;
}

/**
 * A new element with text or children.
 * @param {string} tag
 * @param {{ className?: string, text?: string | number }} [props]
 * @param {(Node | string)[]} [children]
 * @returns {HTMLElement}
 */
function el(tag, props = {}, children = []) {
  const e = document.createElement(tag);
  if (props.className) e.className = props.className;
  if (props.text !== undefined) e.textContent = String(props.text);
  e.append(...children);
  return e;
}

/**
 * A button that runs `action`, shows its error and is disabled while it runs.
 * @param {string} label
 * @param {string} accessibleName
 * @param {() => Promise<void>} action
 */
function button(label, accessibleName, action) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.setAttribute('aria-label', accessibleName);
  b.addEventListener('click', () => run(b, action));
  return b;
}

/** @param {HTMLTableElement} table @param {Node[][]} rows @param {string} empty */
function fillTable(table, rows, empty) {
  const body = table.tBodies[0];
  if (!body) return;
  body.replaceChildren(
    ...rows.map((cells) =>
      el(
        'tr',
        {},
        cells.map((c) => el('td', {}, [c])),
      ),
    ),
  );
  if (rows.length === 0) {
    const td = el('td', { text: empty, className: 'empty' });
    td.setAttribute('colspan', String(table.tHead?.rows[0]?.cells.length ?? 1));
    body.append(el('tr', {}, [td]));
  }
}

/** @param {string} href @param {string} text */
function link(href, text) {
  const a = document.createElement('a');
  a.href = href;
  a.textContent = text;
  return a;
}

/** @param {string} message */
function showError(message) {
  const e = $('error', HTMLElement);
  e.textContent = message;
  e.hidden = false;
}

/** Shows what went wrong, unless it ended the session (the sign-in form says so). */
/** @param {unknown} err */
function report(err) {
  if (err instanceof ApiError && err.signedOut) return;
  showError(err instanceof Error ? err.message : String(err));
}

/** What the action that changed the view said, shown in the next view. */
let carried = '';

/**
 * Moves to another view, with a message for it; the page is busy from here until the view is
 * filled (the hashchange event that fills it comes later, as a task of its own).
 * @param {string} hash
 * @param {string} [message]
 */
function go(hash, message = '') {
  if (location.hash === hash) {
    if (message) notice(message);
    return route();
  }
  carried = message;
  document.querySelector('main')?.setAttribute('aria-busy', 'true');
  location.hash = hash;
}

/**
 * Says what an action did: called once the view shows the result (so whoever reads the notice,
 * a person or a test, sees the list it speaks of).
 * @param {string} message
 */
function notice(message) {
  $('error', HTMLElement).hidden = true;
  $('notice', HTMLElement).textContent = message;
}

function clearMessages() {
  $('error', HTMLElement).hidden = true;
  $('notice', HTMLElement).textContent = '';
}

/**
 * Runs a user action: the control is disabled meanwhile, and a failure is shown in words.
 * @param {HTMLButtonElement | HTMLFormElement} control
 * @param {() => Promise<void>} action
 */
async function run(control, action) {
  const buttons =
    control instanceof HTMLFormElement ? [...control.querySelectorAll('button')] : [control];
  for (const b of buttons) b.disabled = true;
  try {
    await action();
  } catch (err) {
    report(err);
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

/**
 * A form whose submit runs `action` with its fields (never a real submission: a password must
 * not travel in a URL or reach the page's own origin as a form post).
 * @param {string} id
 * @param {(form: HTMLFormElement) => Promise<void>} action
 */
function onSubmit(id, action) {
  const form = $(id, HTMLFormElement);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearMessages();
    run(form, () => action(form));
  });
}

/** @param {HTMLFormElement} form @param {string} name */
function field(form, name) {
  const f = form.elements.namedItem(name);
  if (f instanceof HTMLInputElement || f instanceof HTMLSelectElement) return f;
  throw new Error(`field ${name} missing`);
}

/** @param {number | null | undefined} n */
function bytes(n) {
  if (n === null || n === undefined) return 'unlimited';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  // One decimal below 10 (1.5 GiB), none above or when whole (2 GiB, 500 MiB).
  const shown = Number.isInteger(v) || v >= 10 ? Math.round(v) : Math.round(v * 10) / 10;
  return `${shown} ${units[u]}`;
}

/** A point in time in the reader's own zone, the exact instant in its datetime attribute. */
/** @param {string} iso */
function time(iso) {
  const t = document.createElement('time');
  t.dateTime = iso;
  const d = new Date(iso);
  t.textContent = Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
  return t;
}

/** @param {number} age seconds */
function duration(age) {
  if (age < 90) return `${Math.round(age)} s`;
  if (age < 3600) return `${Math.round(age / 60)} min`;
  if (age < 172800) return `${Math.round(age / 3600)} h`;
  return `${Math.round(age / 86400)} d`;
}

/** The quota field as the API takes it: null for unlimited, else the size as typed. */
/** @param {string} text */
function quotaValue(text) {
  const t = text.trim();
  if (t === '' || t.toLowerCase() === 'unlimited') return null;
  return /^\d+$/.test(t) ? Number(t) : t;
}

// ---- views ----------------------------------------------------------------------------------

const VIEWS = ['signin', 'domains', 'dns', 'accounts', 'account', 'aliases', 'queue'];

/** @param {string} name */
function showView(name) {
  for (const v of VIEWS) $(`view-${v}`, HTMLElement).hidden = v !== name;
  const signedIn = name !== 'signin';
  $('nav', HTMLElement).hidden = !signedIn;
  $('who-box', HTMLElement).hidden = !signedIn;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a instanceof HTMLAnchorElement) {
      const current = a.hash === `#/${name}` || (name === 'account' && a.hash === '#/accounts');
      if (current) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }
}

/** After a move to another view, focus goes to its heading (where a screen reader reads on). */
function focusView() {
  const h = document.querySelector('main > section:not([hidden]) h2');
  if (h instanceof HTMLElement) {
    h.tabIndex = -1;
    h.focus();
  }
}

/** @param {string} [message] */
function showSignIn(message) {
  showView('signin');
  if (message) showError(message);
  $('token', HTMLInputElement).focus();
}

async function renderDomains() {
  /** @type {{ domains: Domain[] }} */
  const { domains } = await api('GET', '/domains');
  fillTable(
    $('domains-table', HTMLTableElement),
    domains.map((d) => [
      el('span', { text: d.name }),
      link(`#/accounts?domain=${enc(d.name)}`, String(d.accounts)),
      link(`#/aliases?domain=${enc(d.name)}`, String(d.aliases)),
      el('span', { className: 'actions' }, [
        link(`#/dns/${enc(d.name)}`, 'DNS records'),
        button('Delete', `Delete domain ${d.name}`, async () => {
          if (!confirm(`Delete the domain ${d.name}?`)) return;
          await api('DELETE', `/domains/${enc(d.name)}`);
          await renderDomains();
          notice(`Deleted the domain ${d.name}.`);
        }),
      ]),
    ]),
    'No domains yet.',
  );
}

/** The domain the DNS view shows. */
let dnsDomain = '';

/**
 * The records the domain needs; with `check`, what DNS says of each (lookups: slower, so only
 * when asked).
 * @param {string} domain
 * @param {boolean} check
 */
async function renderDns(domain, check) {
  dnsDomain = domain;
  $('dns-title', HTMLElement).textContent = `DNS records of ${domain}`;
  const table = $('dns-table', HTMLTableElement);
  table.setAttribute('aria-busy', 'true');
  try {
    /** @type {{ records: DnsRecord[] }} */
    const { records } = await api(
      'GET',
      `/domains/${enc(domain)}/dns${check ? '?check=true' : ''}`,
    );
    fillTable(
      table,
      records.map((r) => [
        el('span', { text: r.type }),
        el('code', { text: r.name }),
        el('code', { text: r.value ?? '', className: 'value' }),
        el('span', { text: r.purpose }),
        el('span', { text: r.status, className: `status status-${r.status}` }),
        el('span', {}, [
          ...(r.found ?? []).map((f) => el('code', { text: f, className: 'value found' })),
          ...(r.note ? [el('span', { text: r.note })] : []),
        ]),
      ]),
      'No records.',
    );
  } finally {
    table.removeAttribute('aria-busy');
  }
}

/** @param {string} domain */
async function renderDkim(domain) {
  /** @type {{ keys: DkimKey[] }} */
  const { keys } = await api('GET', `/domains/${enc(domain)}/dkim`);
  const base = `/domains/${enc(domain)}/dkim`;
  fillTable(
    $('dkim-table', HTMLTableElement),
    keys.map((k) => [
      el('code', { text: k.selector }),
      el('span', { text: k.algorithm }),
      el('span', { text: k.state }),
      time(k.created),
      k.state === 'signing'
        ? button('Retire', `Retire DKIM key ${k.selector}`, async () => {
            if (!confirm(`Stop signing with the key ${k.selector}?`)) return;
            await api('POST', `${base}/${enc(k.selector)}/retire`);
            await Promise.all([renderDns(domain, false), renderDkim(domain)]);
            notice(`Retired the DKIM key ${k.selector}: keep its record published a few days.`);
          })
        : button('Delete', `Delete DKIM key ${k.selector}`, async () => {
            if (!confirm(`Delete the key ${k.selector}? Remove its DNS record too.`)) return;
            await api('DELETE', `${base}/${enc(k.selector)}`);
            await Promise.all([renderDns(domain, false), renderDkim(domain)]);
            notice(`Deleted the DKIM key ${k.selector}.`);
          }),
    ]),
    'No DKIM keys: mail from this domain is not signed.',
  );
}

/**
 * A view's domain filter: every domain, `chosen` selected.
 * @param {string} id the select
 * @param {string} chosen
 */
async function domainChoice(id, chosen) {
  /** @type {{ domains: Domain[] }} */
  const { domains } = await api('GET', '/domains');
  const select = $(id, HTMLSelectElement);
  const all = el('option', { text: 'All domains' });
  if (all instanceof HTMLOptionElement) all.value = '';
  select.replaceChildren(all, ...domains.map((d) => el('option', { text: d.name })));
  select.value = chosen;
}

/** @param {string} domain */
async function renderAccounts(domain) {
  /** @type {[void, { accounts: Account[] }]} */
  const [, { accounts }] = await Promise.all([
    domainChoice('accounts-domain', domain),
    api('GET', `/accounts${domain ? `?domain=${enc(domain)}` : ''}`),
  ]);
  fillTable(
    $('accounts-table', HTMLTableElement),
    accounts.map((a) => [
      link(`#/account/${enc(a.address)}`, a.address),
      el('span', { text: bytes(a.quota) }),
      el('span', { text: bytes(a.used) }),
      el('span', { text: accountState(a) }),
      el('span', { text: a.admin ? 'yes' : 'no' }),
    ]),
    'No accounts.',
  );
}

/** @param {Account} a */
function accountState(a) {
  const s = [a.disabled ? 'disabled' : 'active'];
  if (a.locked) s.push('locked');
  return s.join(', ');
}

/** The account the detail view shows. */
let currentAccount = '';

/** @param {string} address */
async function renderAccount(address) {
  currentAccount = address;
  // A new app password is shown once, in the view it was made in.
  $('app-password-new', HTMLElement).hidden = true;
  $('app-password-new-value', HTMLElement).textContent = '';
  /** @type {[Account, void]} */
  const [a] = await Promise.all([
    api('GET', `/accounts/${enc(address)}`),
    renderAppPasswords(address),
  ]);
  showAccount(a);
}

/** @param {string} address */
async function renderAppPasswords(address) {
  /** @type {{ appPasswords: AppPassword[] }} */
  const { appPasswords } = await api('GET', `/accounts/${enc(address)}/app-passwords`);
  fillTable(
    $('app-passwords-table', HTMLTableElement),
    appPasswords.map((p) => [
      el('span', { text: p.name }),
      time(p.created),
      p.lastUsed ? time(p.lastUsed) : el('span', { text: 'never' }),
      button('Revoke', `Revoke app password ${p.name}`, async () => {
        if (
          !confirm(`Revoke the app password ${p.name}? The program using it can no longer log in.`)
        )
          return;
        await api('DELETE', `/accounts/${enc(address)}/app-passwords/${enc(p.name)}`);
        await renderAppPasswords(address);
        notice(`Revoked the app password ${p.name}.`);
      }),
    ]),
    'No app passwords.',
  );
}

/** @param {Account} a */
function showAccount(a) {
  $('account-title', HTMLElement).textContent = `Account ${a.address}`;
  /** @type {[string, string][]} */
  const facts = [
    ['Address', a.address],
    ['Quota', bytes(a.quota)],
    ['Used', bytes(a.used)],
    ['State', accountState(a)],
    ['Administrator', a.admin ? 'yes' : 'no'],
    ['POP3 deletes', a.pop3Policy ?? ''],
  ];
  $('account-facts', HTMLElement).replaceChildren(
    ...facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]),
  );
  if (a.pop3Policy) $('account-pop3-policy', HTMLSelectElement).value = a.pop3Policy;
  $('account-disable', HTMLButtonElement).hidden = a.disabled;
  $('account-enable', HTMLButtonElement).hidden = !a.disabled;
  $('account-unlock', HTMLButtonElement).hidden = !a.locked;
  $('account-admin-on', HTMLButtonElement).hidden = a.admin;
  $('account-admin-off', HTMLButtonElement).hidden = !a.admin;
}

/** @param {Record<string, unknown>} change @param {string} done */
async function patchAccount(change, done) {
  /** @type {Account} */
  const a = await api('PATCH', `/accounts/${enc(currentAccount)}`, change);
  showAccount(a);
  notice(done);
}

/** @param {string} domain */
async function renderAliases(domain) {
  /** @type {[void, { aliases: Alias[] }]} */
  const [, { aliases }] = await Promise.all([
    domainChoice('aliases-domain', domain),
    api('GET', `/aliases${domain ? `?domain=${enc(domain)}` : ''}`),
  ]);
  fillTable(
    $('aliases-table', HTMLTableElement),
    aliases.map((a) => [
      el('span', { text: a.address }),
      el('span', { text: a.targets.join(', ') }),
      button('Delete', `Delete alias ${a.address}`, async () => {
        if (!confirm(`Delete the alias ${a.address}?`)) return;
        await api('DELETE', `/aliases/${enc(a.address)}`);
        await renderAliases(domain);
        notice(`Deleted the alias ${a.address}.`);
      }),
    ]),
    'No aliases.',
  );
}

async function renderQueue() {
  /** @type {{ items: QueueItem[] }} */
  const { items } = await api('GET', '/queue');
  /** @param {QueueItem} q @param {string} verb @param {string} label @param {string} done */
  const act = (q, verb, label, done) =>
    button(label, `${label} message ${q.id}`, async () => {
      await api('POST', `/queue/${enc(String(q.id))}/${verb}`);
      await renderQueue();
      notice(`${done} message ${q.id}.`);
    });
  fillTable(
    $('queue-table', HTMLTableElement),
    items.map((q) => [
      el('code', { text: q.id }),
      el('span', { text: q.from || '<>' }),
      el('span', { text: q.to.join(', ') }),
      el('span', { text: q.state }),
      el('span', { text: q.attempts }),
      q.nextAttempt ? time(q.nextAttempt) : el('span'),
      el('span', { text: q.lastError ?? '', className: 'value' }),
      el('span', { text: bytes(q.size) }),
      el('span', { text: duration(q.age) }),
      el('span', { className: 'actions' }, [
        act(q, 'retry', 'Retry', 'Retrying'),
        q.state === 'held'
          ? act(q, 'release', 'Release', 'Released')
          : act(q, 'hold', 'Hold', 'Held'),
        button('Delete', `Delete message ${q.id}`, async () => {
          if (!confirm(`Delete message ${q.id} from the queue? It will not be delivered.`)) return;
          await api('DELETE', `/queue/${enc(String(q.id))}`);
          await renderQueue();
          notice(`Deleted message ${q.id} from the queue.`);
        }),
      ]),
    ]),
    'The queue is empty.',
  );
}

/** The view the location's fragment names: #/domains, #/dns/<domain>, #/accounts?domain=... */
async function route() {
  if (!session()) return showSignIn();
  const hash = location.hash.replace(/^#\/?/, '');
  const q = hash.indexOf('?');
  const [name = '', arg = ''] = (q < 0 ? hash : hash.slice(0, q)).split('/');
  const params = new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
  let value = arg;
  try {
    value = decodeURIComponent(arg);
  } catch {
    // Not percent-encoded after all: taken as it is.
  }
  const domain = params.get('domain') ?? '';
  const views = {
    domains: () => renderDomains(),
    dns: () => Promise.all([renderDns(value, false), renderDkim(value)]),
    accounts: () => renderAccounts(domain),
    account: () => renderAccount(value),
    aliases: () => renderAliases(domain),
    queue: () => renderQueue(),
  };
  const view = Object.hasOwn(views, name) ? /** @type {keyof views} */ (name) : 'domains';
  showView(view);
  // Busy while the view is filled (assistive technology waits; so do the browser tests).
  const main = document.querySelector('main');
  main?.setAttribute('aria-busy', 'true');
  try {
    await views[view]();
  } catch (err) {
    report(err);
  } finally {
    main?.removeAttribute('aria-busy');
  }
}

/**
 * POST /session; the API's 401 says only "unauthorized", so the page says what that means here.
 * @param {Record<string, string>} credentials
 * @param {string} refused
 * @returns {Promise<{ session: string }>}
 */
async function signIn(credentials, refused) {
  try {
    return await api('POST', '/session', credentials);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) throw new Error(refused);
    throw err;
  }
}

/** @param {{ session: string }} answer */
async function signedIn(answer) {
  sessionStorage.setItem(SESSION_KEY, answer.session);
  await showWho();
  clearMessages();
  if (location.hash === '' || location.hash === '#/') go('#/domains');
  else await route();
}

async function showWho() {
  /** @type {{ kind: string, username?: string }} */
  const who = await api('GET', '/whoami');
  $('who', HTMLElement).textContent =
    who.kind === 'account' ? `Signed in as ${who.username}` : 'Signed in with the admin token';
}

// ---- wiring ---------------------------------------------------------------------------------

function wire() {
  onSubmit('signin-token', async (form) => {
    const token = field(form, 'token');
    const value = token.value;
    token.value = '';
    await signedIn(await signIn({ token: value }, 'That is not the admin token.'));
  });
  onSubmit('signin-account', async (form) => {
    const password = field(form, 'password');
    const value = password.value;
    password.value = '';
    const username = field(form, 'username').value.trim();
    await signedIn(
      await signIn(
        { username, password: value },
        'Wrong address or password, or the account is not an administrator.',
      ),
    );
  });
  $('sign-out', HTMLButtonElement).addEventListener('click', (ev) => {
    const b = /** @type {HTMLButtonElement} */ (ev.currentTarget);
    run(b, async () => {
      try {
        if (session()) await api('DELETE', '/session');
      } finally {
        sessionStorage.removeItem(SESSION_KEY);
        $('who', HTMLElement).textContent = '';
        history.replaceState(null, '', location.pathname);
        showSignIn();
        notice('Signed out.');
      }
    });
  });

  onSubmit('domain-add', async (form) => {
    const name = field(form, 'name');
    /** @type {{ name: string }} */
    const d = await api('POST', '/domains', { name: name.value.trim() });
    name.value = '';
    await renderDomains();
    notice(`Added the domain ${d.name}.`);
  });
  $('dns-refresh', HTMLButtonElement).addEventListener('click', (ev) => {
    clearMessages();
    const b = /** @type {HTMLButtonElement} */ (ev.currentTarget);
    run(b, async () => {
      await renderDns(dnsDomain, true);
      notice(`Looked up the records of ${dnsDomain}.`);
    });
  });

  for (const view of ['accounts', 'aliases']) {
    onSubmit(`${view}-filter`, async (form) => {
      const domain = field(form, 'domain').value;
      await go(domain ? `#/${view}?domain=${enc(domain)}` : `#/${view}`);
    });
  }
  onSubmit('account-add', async (form) => {
    const password = field(form, 'password');
    const quota = quotaValue(field(form, 'quota').value);
    /** @type {Record<string, unknown>} */
    const body = {
      address: field(form, 'address').value.trim(),
      password: password.value,
      admin: /** @type {HTMLInputElement} */ (field(form, 'admin')).checked,
    };
    if (quota !== null) body.quota = quota;
    password.value = '';
    /** @type {Account} */
    const a = await api('POST', '/accounts', body);
    form.reset();
    await renderAccounts(field($('accounts-filter', HTMLFormElement), 'domain').value);
    notice(`Created the account ${a.address}.`);
  });

  onSubmit('account-quota-form', async (form) => {
    const quota = quotaValue(field(form, 'quota').value);
    await patchAccount({ quota }, `Set the quota of ${currentAccount}.`);
    form.reset();
  });
  onSubmit('account-pop3-form', async (form) => {
    const pop3Policy = field(form, 'pop3Policy').value;
    await patchAccount({ pop3Policy }, `POP3 deletes of ${currentAccount}: ${pop3Policy}.`);
  });
  onSubmit('account-password-form', async (form) => {
    const password = field(form, 'password');
    const value = password.value;
    password.value = '';
    await patchAccount({ password: value }, `Set a new password for ${currentAccount}.`);
  });
  /** @type {[string, () => Promise<void>][]} */
  const accountButtons = [
    ['account-disable', () => patchAccount({ disabled: true }, `Disabled ${currentAccount}.`)],
    ['account-enable', () => patchAccount({ disabled: false }, `Enabled ${currentAccount}.`)],
    [
      'account-admin-on',
      () => patchAccount({ admin: true }, `${currentAccount} is an administrator.`),
    ],
    [
      'account-admin-off',
      () => patchAccount({ admin: false }, `${currentAccount} is no longer an administrator.`),
    ],
    [
      'account-unlock',
      async () => {
        await api('POST', `/accounts/${enc(currentAccount)}/unlock`);
        await renderAccount(currentAccount);
        notice(`Unlocked ${currentAccount}.`);
      },
    ],
    [
      'account-delete',
      async () => {
        const address = currentAccount;
        if (!confirm(`Delete the account ${address} and all its mail?`)) return;
        await api('DELETE', `/accounts/${enc(address)}`);
        const domain = address.slice(address.lastIndexOf('@') + 1);
        go(`#/accounts?domain=${enc(domain)}`, `Deleted the account ${address}.`);
      },
    ],
  ];
  for (const [id, action] of accountButtons) {
    const b = $(id, HTMLButtonElement);
    b.addEventListener('click', () => {
      clearMessages();
      run(b, action);
    });
  }

  onSubmit('dkim-add', async (form) => {
    const algorithm = field(form, 'algorithm').value;
    /** @type {DkimKey} */
    const k = await api('POST', `/domains/${enc(dnsDomain)}/dkim`, { algorithm });
    await Promise.all([renderDns(dnsDomain, false), renderDkim(dnsDomain)]);
    notice(
      `Made the DKIM key ${k.selector}: publish its TXT record (DNS records, above) in the zone.`,
    );
  });

  onSubmit('app-password-add', async (form) => {
    const name = field(form, 'name');
    /** @type {{ name: string, password: string }} */
    const p = await api('POST', `/accounts/${enc(currentAccount)}/app-passwords`, {
      name: name.value.trim(),
    });
    name.value = '';
    $('app-password-new-name', HTMLElement).textContent = p.name;
    $('app-password-new-value', HTMLElement).textContent = p.password;
    $('app-password-new', HTMLElement).hidden = false;
    await renderAppPasswords(currentAccount);
  });

  onSubmit('alias-add', async (form) => {
    const targets = field(form, 'targets')
      .value.split(/[\s,]+/)
      .filter((t) => t !== '');
    const address = field(form, 'address').value.trim();
    /** @type {{ warnings?: string[] } | null} */
    const a = await api('POST', '/aliases', { address, targets });
    form.reset();
    const warnings = a?.warnings ?? [];
    await route();
    notice(
      `Added the alias ${address}.${warnings.length ? ` Warning: ${warnings.join('; ')}` : ''}`,
    );
  });
  $('queue-flush', HTMLButtonElement).addEventListener('click', (ev) => {
    clearMessages();
    const b = /** @type {HTMLButtonElement} */ (ev.currentTarget);
    run(b, async () => {
      /** @type {{ due: number }} */
      const { due } = await api('POST', '/queue/flush');
      await renderQueue();
      notice(`${due} ${due === 1 ? 'message is' : 'messages are'} due now (held ones wait).`);
    });
  });
  $('queue-refresh', HTMLButtonElement).addEventListener('click', (ev) => {
    clearMessages();
    const b = /** @type {HTMLButtonElement} */ (ev.currentTarget);
    run(b, () => renderQueue());
  });

  // A link to another view makes the page busy at once, before its hashchange event.
  document.addEventListener('click', (ev) => {
    const a = ev.target instanceof Element ? ev.target.closest('a[href^="#/"]') : null;
    const plain = ev.button === 0 && !(ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey);
    if (plain && a instanceof HTMLAnchorElement && a.hash !== location.hash) {
      document.querySelector('main')?.setAttribute('aria-busy', 'true');
    }
  });

  // A new view starts without the last one's messages, but with what the action that moved
  // here had to say (see go()).
  window.addEventListener('hashchange', () => {
    clearMessages();
    if (carried) notice(carried);
    carried = '';
    void route().then(focusView);
  });
}

async function start() {
  wire();
  if (session()) {
    try {
      await showWho();
    } catch (err) {
      report(err);
      return;
    }
  }
  await route();
}

void start();
