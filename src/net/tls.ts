// TLS contexts for every listener: a default certificate plus optional per-name certificates
// chosen by SNI (RFC 6066 §3), reloadable on SIGHUP without dropping connections.
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import tls from 'node:tls';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface TlsProviderOptions extends TlsFiles {
  sni?: ({ servername: string } & TlsFiles)[];
  /**
   * The certificate `[tls.acme]` obtained (src/acme/), once it exists: it replaces the default
   * certificate and serves every exact SNI name it covers. Missing or unusable, the configured
   * files serve (a first start before the first issuance).
   */
  acme?: TlsFiles;
}

/** The config's `[tls]` files (paths already absolute) as TlsProvider.load takes them. */
export function tlsOptionsOf(files: {
  cert: string;
  key: string;
  sni: { servername: string; cert: string; key: string }[];
  acme?: { cert: string; key: string };
}): TlsProviderOptions {
  return {
    certFile: files.cert,
    keyFile: files.key,
    sni: files.sni.map((s) => ({ servername: s.servername, certFile: s.cert, keyFile: s.key })),
    ...(files.acme ? { acme: { certFile: files.acme.cert, keyFile: files.acme.key } } : {}),
  };
}

/** A certificate or key file that cannot be used; `message` is one line naming the file. */
export class TlsConfigError extends Error {
  constructor(
    readonly file: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`TLS file ${file}: ${problem}`, options);
    this.name = 'TlsConfigError';
  }
}

// RFC 8996 deprecates TLS 1.0 and 1.1; RFC 8314 §4.1 asks for current TLS versions.
const MIN_VERSION = 'TLSv1.2' as const;

/**
 * Mozilla's "intermediate" server configuration (wiki.mozilla.org/Security/Server_Side_TLS):
 * for TLS 1.2 only forward-secret ECDHE key exchange with AEAD ciphers (AES-GCM,
 * CHACHA20-POLY1305), as RFC 9325 §4.2 recommends; no RSA key exchange and no CBC suites.
 * Its DHE-RSA suites are left out: RFC 10015 deprecates finite-field DHE (and RSA key exchange)
 * in TLS 1.2, a client that forces DHE costs the server far more CPU per handshake than ECDHE
 * (CVE-2002-20001), and Node negotiates DHE only with a `dhparam` anyway.
 * The TLS 1.3 suites are named too: Node disables TLS 1.3 when `ciphers` names none of them.
 * The client's order decides (no honorCipherOrder): every suite here is strong.
 */
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** What every server context gets: the protocol floor and the cipher list. */
export const PROTOCOL_OPTIONS = { minVersion: MIN_VERSION, ciphers: TLS_CIPHERS } as const;

interface LoadedPair {
  cert: string;
  key: string;
  x509: X509Certificate;
  context: tls.SecureContext;
  /** The leaf certificate's end of validity. */
  notAfter: Date;
}

/** A certificate being served, as /healthz reports it. */
export interface ServedCertificate {
  /** The SNI name it is chosen for; null for the default certificate. */
  servername: string | null;
  file: string;
  notAfter: Date;
}

interface Contexts {
  default: LoadedPair;
  served: ServedCertificate[];
  /** Why the ACME certificate's files, present, could not be used (the configured one serves). */
  acmeProblem?: string;
  exact: Map<string, tls.SecureContext>;
  /** Keyed by the suffix after `*.`, e.g. `example.com` for `*.example.com`. */
  wildcard: Map<string, tls.SecureContext>;
}

export class TlsProvider {
  private contexts: Contexts;
  private readonly reloadListeners = new Set<() => void>();

  private constructor(private readonly opts: TlsProviderOptions) {
    this.contexts = loadContexts(opts);
  }

  /** Read and check every file now; throws TlsConfigError naming the first bad file. */
  static load(opts: TlsProviderOptions): TlsProvider {
    return new TlsProvider(opts);
  }

  /**
   * Context for a client that asked for `servername` (SNI): an exact name first, then a
   * wildcard covering exactly one label (RFC 6125 §6.4.3), else the default certificate.
   */
  secureContext(servername?: string): tls.SecureContext {
    const c = this.contexts;
    if (servername) {
      const name = servername.toLowerCase().replace(/\.$/, '');
      const exact = c.exact.get(name);
      if (exact) return exact;
      const dot = name.indexOf('.');
      if (dot > 0) {
        const wild = c.wildcard.get(name.slice(dot + 1));
        if (wild) return wild;
      }
    }
    return c.default.context;
  }

  /**
   * Options for `tls.createServer` or `new tls.TLSSocket`. tls.Server ignores `secureContext`
   * and builds its default context from `cert`/`key`, so both are given; listeners call
   * `server.setSecureContext(serverOptions())` from `onReload` to pick up new files.
   */
  serverOptions(): tls.TlsOptions {
    const def = this.contexts.default;
    return {
      ...PROTOCOL_OPTIONS,
      cert: def.cert,
      key: def.key,
      secureContext: def.context,
      SNICallback: (servername, cb) => {
        cb(null, this.secureContext(servername));
      },
    };
  }

  /**
   * Re-read every file (SIGHUP). On any error the old contexts stay in use and the
   * TlsConfigError is thrown. Connections already open keep the certificate they started with.
   */
  reload(): void {
    this.contexts = loadContexts(this.opts);
    for (const cb of this.reloadListeners) cb();
  }

  /** The certificates in use now (loaded at start or by the last successful reload). */
  certificates(): readonly ServedCertificate[] {
    return this.contexts.served;
  }

  /** The default certificate (the leaf), as served to a client without SNI. */
  certificate(): X509Certificate {
    return this.contexts.default.x509;
  }

  /** Why an ACME certificate on disk is not in use, if it is not. */
  acmeProblem(): string | undefined {
    return this.contexts.acmeProblem;
  }

  /** Called after each successful reload; returns a function that unsubscribes. */
  onReload(cb: () => void): () => void {
    this.reloadListeners.add(cb);
    return () => {
      this.reloadListeners.delete(cb);
    };
  }
}

function loadContexts(opts: TlsProviderOptions): Contexts {
  let acme: LoadedPair | undefined;
  let acmeProblem: string | undefined;
  if (opts.acme && existsSync(opts.acme.certFile) && existsSync(opts.acme.keyFile)) {
    try {
      acme = loadPair(opts.acme);
    } catch (err) {
      acmeProblem = (err as Error).message;
    }
  }
  const def = acme ?? loadPair(opts);
  const contexts: Contexts = {
    default: def,
    served: [
      {
        servername: null,
        file: acme ? opts.acme!.certFile : opts.certFile,
        notAfter: def.notAfter,
      },
    ],
    exact: new Map(),
    wildcard: new Map(),
    ...(acmeProblem ? { acmeProblem } : {}),
  };
  for (const entry of opts.sni ?? []) {
    const name = entry.servername.toLowerCase().replace(/\.$/, '');
    const { context, notAfter } = loadPair(entry);
    if (name.startsWith('*.')) contexts.wildcard.set(name.slice(2), context);
    else if (acme && certificateCovers(acme.x509, name)) {
      // The ACME certificate serves the names it covers.
      contexts.exact.set(name, acme.context);
      contexts.served.push({
        servername: name,
        file: opts.acme!.certFile,
        notAfter: acme.notAfter,
      });
      continue;
    } else contexts.exact.set(name, context);
    contexts.served.push({ servername: name, file: entry.certFile, notAfter });
  }
  return contexts;
}

/**
 * Whether `cert` is valid for `hostname` (RFC 6125 §6.4: DNS names in subjectAltName, a
 * wildcard for one label), or, for an IP address literal, for that address.
 */
export function certificateCovers(cert: X509Certificate, hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  if (isIP(name) !== 0) return cert.checkIP(name) !== undefined;
  return cert.checkHost(name) !== undefined;
}

function loadPair(files: TlsFiles): LoadedPair {
  const cert = readPem(files.certFile, 'CERTIFICATE');
  const key = readPem(files.keyFile, 'PRIVATE KEY');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new TlsConfigError(files.certFile, 'not a valid PEM certificate', { cause: err });
  }
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(key);
  } catch (err) {
    throw new TlsConfigError(
      files.keyFile,
      'not a valid PEM private key (encrypted keys are not supported)',
      { cause: err },
    );
  }
  if (!x509.checkPrivateKey(keyObject)) {
    throw new TlsConfigError(
      files.keyFile,
      `private key does not match certificate ${files.certFile}`,
    );
  }
  try {
    const context = tls.createSecureContext({ cert, key, ...PROTOCOL_OPTIONS });
    return { cert, key, x509, context, notAfter: new Date(x509.validTo) };
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new TlsConfigError(files.certFile, `rejected by TLS library: ${msg}`, { cause: err });
  }
}

/** Read a file that must contain a PEM block whose label ends with `label`. */
function readPem(file: string, label: 'CERTIFICATE' | 'PRIVATE KEY'): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem =
      code === 'ENOENT'
        ? 'file not found'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied (cannot read file)'
          : code === 'EISDIR'
            ? 'is a directory, expected a file'
            : `cannot read file (${code ?? String(err)})`;
    throw new TlsConfigError(file, problem, { cause: err });
  }
  // "PRIVATE KEY" also covers "RSA PRIVATE KEY" and "EC PRIVATE KEY".
  const re = new RegExp(`-----BEGIN [A-Z ]*${label}-----`);
  if (!re.test(text)) {
    const what = label === 'CERTIFICATE' ? 'a PEM certificate' : 'a PEM private key';
    throw new TlsConfigError(file, `not ${what} (no "-----BEGIN ...${label}-----" line)`);
  }
  return text;
}

/**
 * Why a handshake failed, as a short one-line string for the log: OpenSSL's reason ("wrong
 * version number", "no shared cipher") rather than its multi-part message, else the error code
 * or the first line of the message. A failed handshake is the client's business (a scanner,
 * an old client, garbage after STARTTLS): it is logged at info without a stack.
 */
export function tlsFailureReason(err: unknown): string {
  const e = err as { reason?: unknown; code?: unknown; message?: unknown } | null;
  let reason: string;
  if (typeof e?.reason === 'string' && e.reason !== '') reason = e.reason;
  else if (typeof e?.message === 'string' && e.message !== '') {
    reason = e.message.split('\n')[0]!;
    if (typeof e.code === 'string' && !reason.includes(e.code)) reason = `${reason} (${e.code})`;
  } else reason = String(err);
  return reason.length > 200 ? `${reason.slice(0, 200)}...` : reason;
}
