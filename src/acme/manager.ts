// Certificates from an ACME CA (RFC 8555) for `[tls.acme]`: one certificate for the hostname
// and the exact names of `[[tls.sni]]`, validated by HTTP-01 (§8.3) on the http listener or by
// TLS-ALPN-01 (RFC 8737) on the implicit-TLS listeners (whichever responder it is given), kept in data_dir/acme/ (0600) and loaded into every TLS listener by the TLS provider's
// reload (the same SecureContext swap as SIGHUP; POP3 workers follow it). A timer (unref'd,
// jittered) checks it and renews it when it gets close to expiry; on failure the certificate
// in use stays, the log and /healthz say so, and the attempt is retried with backoff.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import acme from 'acme-client';
import type { AcmeChallengeType, Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { TlsProvider } from '../net/tls.js';
import { mkdirPrivate } from '../private-files.js';
import { createAlpnChallengeCertificate } from './alpn-certificate.js';
import { type AcmeChallenges, implicitTlsListeners, plainHttpListener } from './challenges.js';
import { accountKeyFile, acmeDir, acmeFiles, replacePrivateFile } from './files.js';
import { TlsAlpnChallenges } from './tls-alpn.js';

const DAY_MS = 86_400_000;
/** How often the certificate is looked at when nothing is due before then. */
const CHECK_EVERY_MS = 12 * 3_600_000;
/** First retry after a failure; doubles per failure up to RETRY_MAX_MS. */
const RETRY_BASE_MS = 5 * 60_000;
const RETRY_MAX_MS = 6 * 3_600_000;

/** What a test changes: how soon the timer fires, and the clock renewal is decided by. */
export interface AcmeInternals {
  now?: () => number;
  checkEveryMs?: number;
  /** How often acme-client retries a request that got no answer or a 5xx (its default: 5). */
  httpRetries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
}

export interface AcmeStatus {
  /** pending: none obtained yet; valid: in use; failing: the last attempt failed. */
  state: 'pending' | 'valid' | 'failing';
  names: string[];
  /** How the CA validates them (`[tls.acme] challenge` or its default). */
  challenge: AcmeChallengeType;
  /** The ACME certificate on disk and in use. */
  notAfter?: string;
  serial?: string;
  renewAfter?: string;
  lastIssued?: string;
  lastError?: string;
  failures: number;
  nextCheck?: string;
}

interface Current {
  x509: X509Certificate;
  renewAt: number;
}

/** The names to certify: the hostname first, then the exact SNI names (wildcards need DNS-01). */
export function acmeNames(cfg: Config): { names: string[]; skipped: string[] } {
  const names: string[] = [];
  const skipped: string[] = [];
  for (const n of [cfg.hostname, ...cfg.tls.sni.map((s) => s.servername)]) {
    const name = n.toLowerCase().replace(/\.$/, '');
    if (name.includes('*')) skipped.push(name);
    else if (!names.includes(name)) names.push(name);
  }
  return { names, skipped };
}

/**
 * When to renew: `renew_before_days` before expiry if configured, else 30 days or a third of
 * the lifetime before it, whichever is later (Let's Encrypt's 90 days: at 60; 6 days: at 4).
 */
export function renewTime(cert: X509Certificate, renewBeforeDays?: number): number {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  const before =
    renewBeforeDays !== undefined
      ? renewBeforeDays * DAY_MS
      : Math.min(30 * DAY_MS, (to - from) / 3);
  return to - before;
}

export class AcmeManager {
  private readonly log: Logger;
  private readonly names: string[];
  private readonly files: { cert: string; key: string };
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private failures = 0;
  private current: Current | undefined;
  private lastError: string | undefined;
  private lastIssued: Date | undefined;
  private nextCheck: Date | undefined;
  private caAgent: https.Agent | undefined;
  private readonly challenge: AcmeChallengeType;

  /**
   * `responder`: where the challenges are answered; its kind is the challenge the CA is asked
   * for (the server picks it with acmeChallengeType).
   */
  constructor(
    private readonly cfg: Config,
    log: Logger,
    private readonly tls: TlsProvider,
    private readonly responder: AcmeChallenges | TlsAlpnChallenges,
    private readonly internals: AcmeInternals = {},
  ) {
    this.log = log.child({ component: 'acme' });
    const { names, skipped } = acmeNames(cfg);
    this.names = names;
    this.files = acmeFiles(cfg.dataDir);
    this.challenge = responder instanceof TlsAlpnChallenges ? 'tls-alpn-01' : 'http-01';
    if (skipped.length > 0) {
      this.log.warn(
        { names: skipped },
        'wildcard names cannot be validated by HTTP-01 or TLS-ALPN-01; they keep their configured certificates',
      );
    }
    if (this.challenge === 'http-01' && !plainHttpListener(cfg)) {
      this.log.warn(
        '[tls.acme] validates by HTTP-01, which needs plain HTTP on the http listener (disabled or HTTPS)',
      );
    }
    const implicit = implicitTlsListeners(cfg);
    if (this.challenge === 'tls-alpn-01' && implicit.length === 0) {
      this.log.warn('[tls.acme] validates by TLS-ALPN-01, but no implicit-TLS listener is enabled');
    }
    this.log.info(
      this.challenge === 'http-01'
        ? { challenge: this.challenge, port: cfg.listeners.http.port }
        : { challenge: this.challenge, listeners: implicit },
      'ACME: the CA validates by this challenge',
    );
  }

  /** Check now (in the background: the listeners do not wait for the CA), then on the timer. */
  start(): void {
    this.schedule(0);
  }

  /** Stop the timer; an attempt under way is awaited up to the deadline. */
  async stop(deadlineMs: number): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.running) return;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([
      this.running,
      new Promise<void>((r) => {
        t = setTimeout(r, deadlineMs);
      }),
    ]);
    clearTimeout(t);
  }

  status(): AcmeStatus {
    const c = this.current;
    const s: AcmeStatus = {
      state: this.lastError !== undefined ? 'failing' : c ? 'valid' : 'pending',
      names: this.names,
      challenge: this.challenge,
      failures: this.failures,
    };
    if (c) {
      s.notAfter = new Date(c.x509.validTo).toISOString();
      s.serial = c.x509.serialNumber;
      s.renewAfter = new Date(c.renewAt).toISOString();
    }
    if (this.lastIssued) s.lastIssued = this.lastIssued.toISOString();
    if (this.lastError !== undefined) s.lastError = this.lastError;
    if (this.nextCheck) s.nextCheck = this.nextCheck.toISOString();
    return s;
  }

  private serving(cert: X509Certificate): boolean {
    return this.tls.certificate().fingerprint256 === cert.fingerprint256;
  }

  private now(): number {
    return this.internals.now?.() ?? Date.now();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    // Up to 10% earlier, so that servers started together do not ask the CA together.
    const delay = Math.max(0, Math.round(delayMs * (1 - Math.random() * 0.1)));
    this.nextCheck = new Date(Date.now() + delay);
    this.timer = setTimeout(() => {
      this.running = this.check().finally(() => {
        this.running = undefined;
      });
    }, delay);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    const checkEvery = this.internals.checkEveryMs ?? CHECK_EVERY_MS;
    try {
      this.current = await this.readCurrent();
      if (!this.current || this.now() >= this.current.renewAt) await this.obtain();
      else if (!this.serving(this.current.x509)) {
        // On disk but not served (a reload that failed before): load it now.
        this.tls.reload();
        if (!this.serving(this.current.x509)) {
          throw new Error(`certificate not loaded: ${this.tls.acmeProblem() ?? 'unknown reason'}`);
        }
      }
      if (this.stopped) return;
      this.failures = 0;
      this.lastError = undefined;
      const due = this.current!.renewAt - this.now();
      this.schedule(due > 0 ? Math.min(due, checkEvery) : checkEvery);
    } catch (err) {
      if (this.stopped) return;
      this.failures++;
      this.lastError = (err as Error).message ?? String(err);
      const base = this.internals.retryBaseMs ?? RETRY_BASE_MS;
      const max = this.internals.retryMaxMs ?? RETRY_MAX_MS;
      const retry = Math.min(base * 2 ** Math.min(this.failures - 1, 30), max);
      const c = this.current;
      this.log.error(
        {
          err: this.lastError,
          names: this.names,
          failures: this.failures,
          retryInSeconds: Math.round(retry / 1000),
          keeping: c ? { serial: c.x509.serialNumber, notAfter: c.x509.validTo } : 'configured',
        },
        c
          ? 'ACME certificate renewal failed; keeping the current certificate'
          : 'ACME certificate request failed; the configured certificate stays in use',
      );
      this.schedule(retry);
    }
  }

  /**
   * The certificate in data_dir/acme/ if it is usable for every name (its key matches, it
   * covers them all), with when to renew it; undefined if a new one is needed.
   */
  private async readCurrent(): Promise<Current | undefined> {
    if (!existsSync(this.files.cert) || !existsSync(this.files.key)) return undefined;
    try {
      const x509 = new X509Certificate(await readFile(this.files.cert));
      if (!x509.checkPrivateKey(createPrivateKey(await readFile(this.files.key)))) return undefined;
      if (!this.names.every((n) => x509.checkHost(n) !== undefined)) return undefined;
      return { x509, renewAt: renewTime(x509, this.cfg.tls.acme?.renew_before_days) };
    } catch (err) {
      this.log.warn(
        { err: (err as Error).message },
        'ACME certificate on disk unusable; replacing it',
      );
      return undefined;
    }
  }

  private async obtain(): Promise<void> {
    const conf = this.cfg.tls.acme!;
    await mkdirPrivate(acmeDir(this.cfg.dataDir));
    // Only the ACME client trusts ca_file, and only for the directory's HTTPS.
    if (this.cfg.acmeCaFile && !this.caAgent) {
      this.caAgent = new https.Agent({ ca: await readFile(this.cfg.acmeCaFile) });
    }
    acme.axios.defaults.httpsAgent = this.caAgent;
    // acme-client's own setting, outside axios's types (src/axios.js in acme-client).
    const settings = (acme.axios.defaults as { acmeSettings?: { retryMaxAttempts: number } })
      .acmeSettings;
    if (settings) settings.retryMaxAttempts = this.internals.httpRetries ?? 5;
    const client = new acme.Client({
      directoryUrl: conf.directory,
      accountKey: await this.accountKey(),
    });
    this.log.info({ names: this.names, directory: conf.directory }, 'ACME: ordering a certificate');
    // A new key at each issuance; RSA 2048 for the oldest mail clients.
    const key = await acme.crypto.createPrivateRsaKey(2048);
    const [, csr] = await acme.crypto.createCsr(
      { commonName: this.names[0], altNames: this.names },
      key,
    );
    const responder = this.responder;
    const chain = await client.auto({
      csr,
      email: conf.email,
      termsOfServiceAgreed: true,
      challengePriority: [this.challenge],
      // The CA checks; the client's own pre-check would connect to port 80 or 443 of our
      // public name, which a server behind NAT may not reach.
      skipChallengeVerification: true,
      challengeCreateFn: async (authz, challenge, keyAuthorization) => {
        if (responder instanceof TlsAlpnChallenges) {
          // RFC 8737 §3: keyAuthorization is token.thumbprint, as for HTTP-01.
          const name = authz.identifier.value;
          const { cert, key } = createAlpnChallengeCertificate(name, keyAuthorization);
          responder.set(name, cert, key);
        } else responder.set(challenge.token, keyAuthorization);
      },
      challengeRemoveFn: async (authz, challenge) => {
        if (responder instanceof TlsAlpnChallenges) responder.delete(authz.identifier.value);
        else responder.delete(challenge.token);
      },
    });
    const x509 = new X509Certificate(chain);
    if (!x509.checkPrivateKey(createPrivateKey(key))) {
      throw new Error('the CA returned a certificate for another key');
    }
    if (this.stopped) return;
    // Key first: until the certificate is renamed over the old one, the pair on disk does not
    // match and the TLS provider keeps what it serves.
    await replacePrivateFile(this.files.key, key);
    await replacePrivateFile(this.files.cert, chain);
    this.lastIssued = new Date();
    this.current = { x509, renewAt: renewTime(x509, conf.renew_before_days) };
    this.tls.reload();
    const problem = this.tls.acmeProblem();
    if (problem) throw new Error(`new certificate not loaded: ${problem}`);
    this.log.info(
      { names: this.names, serial: x509.serialNumber, notAfter: x509.validTo },
      'ACME certificate installed in every TLS listener',
    );
    if (this.current.renewAt <= this.now()) {
      this.log.warn(
        { renewBeforeDays: conf.renew_before_days, notAfter: x509.validTo },
        'renew_before_days is longer than the certificate lifetime: it is renewed at every check',
      );
    }
  }

  private async accountKey(): Promise<Buffer> {
    const file = accountKeyFile(this.cfg.dataDir);
    if (existsSync(file)) return readFile(file);
    const key = await acme.crypto.createPrivateEcdsaKey('P-256');
    await replacePrivateFile(file, key);
    return key;
  }
}
