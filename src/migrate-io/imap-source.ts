// A live IMAP server as folders to import (`letterbox import imap`), read with imapflow:
// every folder LIST shows (RFC 9051 §6.3.9), its hierarchy separator turned into ours, the
// special-use folders (RFC 6154 §2: \Drafts \Sent \Trash \Junk \Archive) into the account's
// own whatever their names, each message with its flags, keywords and INTERNALDATE, read
// with BODY.PEEK[] in a mailbox opened with EXAMINE, so the source is never changed.
//
// Messages are fetched in UID order, a chunk at a time: first UID FLAGS INTERNALDATE
// RFC822.SIZE for up to CHUNK messages, then their bodies in batches of at most
// BATCH_BYTES, so memory does not grow with the mailbox. What was copied is remembered per
// source folder (imap-state.ts): the next run asks only for UIDs above it, and with CONDSTORE
// (RFC 7162 §3.1.4.1, FETCH CHANGEDSINCE) brings the flags changed since up to date.
import type { ConnectionOptions } from 'node:tls';
import { ImapFlow, type ImapFlowOptions, type ListResponse } from 'imapflow';
import { isStoreError } from '../store/errors.js';
import { normalizeMailboxName } from '../store/names.js';
import { type Account, type MailStore, SPECIAL_USES, type SpecialUse } from '../store/types.js';
import { addMapping, type FolderState, ImportState, mappingLookup } from './imap-state.js';
import type { ImapSourceUrl } from './imap-url.js';
import type { ImportFailure, ImportFolder, ImportItem } from './import.js';

export interface ImapSourceOptions {
  url: ImapSourceUrl;
  password: string;
  /** Accept any certificate (test servers). */
  insecure?: boolean;
  /** Trust these CA certificates (PEM) instead of the system's. */
  ca?: Buffer;
  store: MailStore;
  account: Account;
  /** Bytes; larger messages are reported, never fetched. */
  maxMessageSize: number;
  /** The state file (imap-state.ts statePath). */
  statePath: string;
  /** Messages whose metadata is read at once (default 500). */
  chunk?: number;
  /** Bytes of bodies fetched at once (default 8 MiB; a larger message alone). */
  batchBytes?: number;
  /** Seconds for connecting and for the greeting (default 30). */
  connectTimeout?: number;
}

/** Why the source cannot be used at all: the import does not start. */
export class ImapSourceError extends Error {}

/** imapflow's options for the URL: TLS, or STARTTLS required unless on loopback. */
export function connectionOptions(
  url: ImapSourceUrl,
  password: string,
  opts: { insecure?: boolean; ca?: Buffer; connectTimeout?: number } = {},
): ImapFlowOptions {
  const tls: ConnectionOptions = { rejectUnauthorized: !opts.insecure };
  if (opts.ca) tls.ca = opts.ca;
  const timeout = (opts.connectTimeout ?? 30) * 1000;
  return {
    host: url.host,
    port: url.port,
    secure: url.implicitTls,
    // RFC 9051 §11.1 / RFC 8314: the password crosses the network only inside TLS. Over
    // imap:// STARTTLS is required, and a server without it refused, except on loopback,
    // where the password does not leave the machine and the session stays in cleartext.
    ...(url.implicitTls ? {} : { doSTARTTLS: !url.loopback }),
    auth: { user: url.user, pass: password },
    tls,
    logger: false,
    disableAutoIdle: true,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: 10 * 60 * 1000,
  };
}

/** What went wrong with connecting or logging in, in words for the operator. */
export function connectError(url: ImapSourceUrl, err: unknown): ImapSourceError {
  const e = err as Error & {
    code?: string;
    authenticationFailed?: boolean;
    responseText?: string;
  };
  const where = `${url.host}:${url.port}`;
  if (e?.authenticationFailed) {
    return new ImapSourceError(
      `${url.display} refused the login of ${url.user}${e.responseText ? `: ${e.responseText}` : ''}`,
    );
  }
  const byCode: Record<string, string> = {
    ECONNREFUSED: `cannot connect to ${where}: connection refused`,
    ENOTFOUND: `cannot connect to ${where}: no such host`,
    EAI_AGAIN: `cannot connect to ${where}: the host name could not be resolved`,
    ETIMEDOUT: `cannot connect to ${where}: timed out`,
    CONNECT_TIMEOUT: `cannot connect to ${where}: timed out`,
    GREETING_TIMEOUT: `${where} sent no IMAP greeting`,
    EHOSTUNREACH: `cannot connect to ${where}: host unreachable`,
    ENETUNREACH: `cannot connect to ${where}: network unreachable`,
  };
  if (e?.code && byCode[e.code]) return new ImapSourceError(byCode[e.code]!);
  const msg = e?.message ?? String(err);
  if (/STARTTLS/i.test(msg)) {
    return new ImapSourceError(
      `${where} does not offer STARTTLS: use imaps://, or a loopback host for cleartext (${msg})`,
    );
  }
  if (/certificate|self[- ]signed|CERT_|unable to verify/i.test(`${msg} ${e?.code ?? ''}`)) {
    return new ImapSourceError(
      `the certificate of ${where} is not trusted (${msg}): give its CA with --ca-file, or --insecure`,
    );
  }
  return new ImapSourceError(`cannot use ${url.display}: ${msg}`);
}

/** The source's mailbox path as our name: levels split at its separator, joined with ours. */
export function mapFolderName(
  path: string,
  delimiter: string | null | undefined,
  prefix = '',
): string {
  let p = path;
  if (prefix !== '' && p.startsWith(prefix) && p.length > prefix.length) p = p.slice(prefix.length);
  if (p.toUpperCase() === 'INBOX') return 'INBOX';
  const levels = delimiter ? p.split(delimiter) : [p];
  for (const l of levels) {
    if (l.includes('/')) {
      throw new Error(`the level "${l}" holds "/", this server's hierarchy separator`);
    }
  }
  if (levels[0]!.toUpperCase() === 'INBOX') levels[0] = 'INBOX';
  return normalizeMailboxName(levels.join('/'));
}

/** RFC 6154: the special-use attributes that name one of our mailboxes (\All, \Flagged are views). */
function ownUse(use: string | undefined): SpecialUse | null {
  const u = SPECIAL_USES.find((s) => s.toLowerCase() === use?.toLowerCase());
  return u ?? null;
}

/** Views of other folders' messages: copying them would copy every message twice. */
function isView(entry: ListResponse): boolean {
  const use = entry.specialUseSource === 'extension' ? entry.specialUse?.toLowerCase() : '';
  return use === '\\all' || use === '\\flagged';
}

/** Ascending UIDs as an IMAP sequence set, runs as ranges (RFC 9051 §9 sequence-set). */
export function uidSet(uids: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < uids.length; ) {
    let j = i;
    while (j + 1 < uids.length && uids[j + 1] === uids[j]! + 1) j++;
    parts.push(j === i ? String(uids[i]) : `${uids[i]}:${uids[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

function cleanFlags(flags: Set<string> | undefined): string[] {
  // \Recent is the session's, never stored (RFC 9051 drops it; RFC 3501 §2.3.2: server-set).
  return [...(flags ?? [])].filter((f) => f.toLowerCase() !== '\\recent');
}

/** Which source UIDs are under way and what became of them (for the state). */
interface Tracker {
  /** Called in ascending UID order, before the UID is settled. */
  expect(uid: number): void;
  settle(uid: number, result: 'imported' | 'skipped' | 'failed', dst?: number): void;
}

interface Meta {
  uid: number;
  flags: string[];
  internalDate: Date;
  size: number;
}

export class ImapSource {
  /** Messages whose flags were brought up to date from the source (CONDSTORE). */
  flagsUpdated = 0;
  /** Folders not copied because they are views of others (RFC 6154 \All, \Flagged). */
  readonly views: string[] = [];
  private flow: ImapFlow;
  private lost: string | null = null;
  private lastSave = 0;
  /** Bring each folder's state up to date before it is written. */
  private readonly syncs = new Set<() => void>();

  private constructor(
    private readonly opts: ImapSourceOptions,
    flow: ImapFlow,
    private readonly state: ImportState,
  ) {
    this.flow = flow;
  }

  static async open(opts: ImapSourceOptions): Promise<ImapSource> {
    const state = await ImportState.load(opts.statePath, opts.url.display, opts.account.address);
    const source = new ImapSource(opts, await ImapSource.connect(opts), state);
    return source;
  }

  private static async connect(opts: ImapSourceOptions): Promise<ImapFlow> {
    const flow = new ImapFlow(connectionOptions(opts.url, opts.password, opts));
    // A dropped connection is seen by the command under way; the event must not throw.
    flow.on('error', () => {});
    try {
      await flow.connect();
    } catch (err) {
      flow.close();
      throw connectError(opts.url, err);
    }
    return flow;
  }

  /** A connection that works, made again after one was lost. */
  private async ready(): Promise<ImapFlow> {
    if (this.flow.usable && this.lost === null) return this.flow;
    this.flow.close();
    this.flow = await ImapSource.connect(this.opts);
    this.lost = null;
    return this.flow;
  }

  private where(path: string): string {
    return `${this.opts.url.display}/${path}`;
  }

  /** Every folder the source lists, as folders to import (INBOX first), or failures. */
  async folders(): Promise<Array<ImportFolder | ImportFailure>> {
    const { store, account } = this.opts;
    let entries: ListResponse[];
    try {
      entries = await this.flow.list({
        statusQuery: { messages: true, uidValidity: true, uidNext: true },
      });
    } catch (err) {
      throw new ImapSourceError(
        `cannot list the folders of ${this.opts.url.display}: ${text(err)}`,
      );
    }
    const prefix = this.flow.namespace?.prefix ?? '';
    // Which source folder maps to each special use: the one the server marks (RFC 6154 §2),
    // and only on a server without SPECIAL-USE one imapflow guessed from its name (a
    // server that has it said which folders have uses: a German "Entwürfe" it does not mark
    // is a folder like any other).
    const byUse = new Map<SpecialUse, ListResponse>();
    const marks = this.flow.capabilities.has('SPECIAL-USE') || this.flow.capabilities.has('XLIST');
    for (const pass of marks ? (['extension'] as const) : (['extension', 'name'] as const)) {
      for (const e of entries) {
        const use = ownUse(e.specialUse);
        if (use && (e.specialUseSource ?? 'name') === pass && !byUse.has(use)) byUse.set(use, e);
      }
    }
    const ours = await store.listMailboxes(account.id);
    const out: Array<ImportFolder | ImportFailure> = [];
    const sorted = [...entries].sort((a, b) =>
      a.path.toUpperCase() === 'INBOX' ? -1 : b.path.toUpperCase() === 'INBOX' ? 1 : 0,
    );
    for (const e of sorted) {
      const flags = new Set([...e.flags].map((f) => f.toLowerCase()));
      if (flags.has('\\noselect') || flags.has('\\nonexistent')) continue;
      if (isView(e)) {
        this.views.push(e.path);
        continue;
      }
      let name: string;
      try {
        name = mapFolderName(e.path, e.delimiter, prefix);
      } catch (err) {
        out.push({
          source: this.where(e.path),
          reason: `not a valid mailbox name here: ${text(err)}`,
        });
        continue;
      }
      const use = ownUse(e.specialUse);
      if (use && byUse.get(use) === e) {
        const own = ours.find((m) => m.specialUse === use);
        if (own) name = own.name;
        else if (!ours.some((m) => m.name === name)) {
          // Made now with the attribute, so that clients find it by its use.
          try {
            const made = await store.createMailbox(account.id, name, use);
            ours.push(made);
          } catch (err) {
            if (!isStoreError(err, 'EXISTS')) {
              out.push({
                source: this.where(e.path),
                reason: `cannot create ${name}: ${text(err)}`,
              });
              continue;
            }
          }
        }
      }
      const st = e.status;
      const uidValidity = st?.uidValidity === undefined ? undefined : Number(st.uidValidity);
      out.push({
        name,
        source: this.where(e.path),
        ...(uidValidity !== undefined && st?.uidNext !== undefined
          ? { uidValidity, uidNext: st.uidNext }
          : {}),
        subscribed: e.subscribed,
        items: () => this.items(e.path, name),
      });
    }
    return out;
  }

  /** Writes the state now (after the import, and every few seconds while it runs). */
  async saveState(): Promise<void> {
    this.lastSave = Date.now();
    for (const sync of this.syncs) sync();
    await this.state.save();
  }

  private saveSoon(): void {
    if (Date.now() - this.lastSave < 2000) return;
    this.lastSave = Date.now();
    for (const sync of this.syncs) sync();
    this.state.save().catch(() => {});
  }

  async close(): Promise<void> {
    try {
      if (this.flow.usable) await this.flow.logout();
    } catch {
      // gone already
    }
    this.flow.close();
  }

  private async *items(path: string, target: string): AsyncGenerator<ImportItem | ImportFailure> {
    const where = this.where(path);
    let flow: ImapFlow;
    try {
      flow = await this.ready();
    } catch (err) {
      yield { source: where, reason: `not copied: ${text(err)}` };
      return;
    }
    let folder: FolderState;
    let highestModseq: bigint | undefined;
    try {
      const mb = await flow.mailboxOpen(path, { readOnly: true });
      folder = this.state.folder(path, Number(mb.uidValidity));
      const condstore = flow.enabled.has('CONDSTORE') && !mb.noModseq;
      highestModseq = condstore ? mb.highestModseq : undefined;
      if (highestModseq !== undefined && folder.highestModseq && folder.lastUid > 0) {
        await this.updateFlags(flow, folder, target, BigInt(folder.highestModseq));
      }
    } catch (err) {
      yield { source: where, reason: this.failReason(err, 'cannot open the folder') };
      return;
    }
    // Settled UIDs: lastUid moves over the copied (or failed) prefix, in source order.
    const pending = new Map<number, boolean>();
    const failed = new Set(folder.failed);
    const sync = () => {
      folder.failed = [...failed].sort((x, y) => x - y);
    };
    this.syncs.add(sync);
    const track: Tracker = {
      expect: (uid) => pending.set(uid, false),
      settle: (uid, result, dst) => {
        if (result === 'failed') failed.add(uid);
        else {
          failed.delete(uid);
          if (dst !== undefined) addMapping(folder.map, uid, dst);
        }
        pending.set(uid, true);
        for (const [u, done] of pending) {
          if (!done) break;
          pending.delete(u);
          if (u > folder.lastUid) folder.lastUid = u;
        }
        this.saveSoon();
      },
    };
    let complete = false;
    try {
      const found = (await flow.search({ uid: `${folder.lastUid + 1}:*` }, { uid: true })) || [];
      // RFC 9051 §9 (seq-range): n:* holds the highest UID even when that is below n.
      const uids = [...new Set([...failed, ...found.filter((u) => u > folder.lastUid)])].sort(
        (x, y) => x - y,
      );
      const chunk = this.opts.chunk ?? 500;
      for (let i = 0; i < uids.length; i += chunk) {
        yield* this.chunkItems(flow, where, uids.slice(i, i + chunk), track);
      }
      complete = true;
    } catch (err) {
      yield { source: where, reason: this.failReason(err, 'fetching failed') };
    } finally {
      // Flags are current at the HIGHESTMODSEQ of the EXAMINE once every message was copied.
      if (complete && highestModseq !== undefined) {
        folder.highestModseq = highestModseq.toString();
      }
    }
  }

  /** The items of some UIDs (ascending), bodies fetched in batches bounded in bytes. */
  private async *chunkItems(
    flow: ImapFlow,
    where: string,
    uids: number[],
    track: Tracker,
  ): AsyncGenerator<ImportItem | ImportFailure> {
    const metas = new Map<number, Meta>();
    for await (const m of flow.fetch(
      uidSet(uids),
      { uid: true, flags: true, internalDate: true, size: true },
      { uid: true },
    )) {
      const date = m.internalDate instanceof Date ? m.internalDate : new Date(m.internalDate ?? '');
      metas.set(m.uid, {
        uid: m.uid,
        flags: cleanFlags(m.flags),
        internalDate: Number.isNaN(date.getTime()) ? new Date() : date,
        size: m.size ?? 0,
      });
    }
    const max = this.opts.maxMessageSize;
    const limit = this.opts.batchBytes ?? 8 * 1024 * 1024;
    let batch: Meta[] = [];
    let bytes = 0;
    async function* flush(): AsyncGenerator<ImportItem | ImportFailure> {
      if (batch.length === 0) return;
      const bodies = new Map<number, Buffer>();
      for await (const m of flow.fetch(
        uidSet(batch.map((b) => b.uid)),
        { uid: true, source: true },
        { uid: true },
      )) {
        if (m.source) bodies.set(m.uid, m.source);
      }
      const done = batch;
      batch = [];
      bytes = 0;
      for (const meta of done) {
        const source = `${where};UID=${meta.uid}`;
        const raw = bodies.get(meta.uid);
        bodies.delete(meta.uid);
        if (!raw) {
          track.settle(meta.uid, 'failed');
          yield { source, reason: 'the source sent no content for it' };
          continue;
        }
        yield {
          source,
          flags: meta.flags,
          internalDate: meta.internalDate,
          uid: meta.uid,
          size: raw.length,
          read: async () => raw,
          settled: (result, dst) => track.settle(meta.uid, result, dst),
        };
      }
    }
    // UIDs the source no longer has (expunged meanwhile) are passed over.
    for (const uid of uids) {
      const meta = metas.get(uid);
      if (!meta) continue;
      track.expect(uid);
      if (meta.size > max) {
        track.settle(uid, 'failed');
        yield {
          source: `${where};UID=${uid}`,
          reason: `${meta.size} bytes, over the limit of ${max} ([limits] max_message_size)`,
        };
        continue;
      }
      if (batch.length > 0 && bytes + meta.size > limit) yield* flush();
      batch.push(meta);
      bytes += meta.size;
    }
    yield* flush();
  }

  /** RFC 7162 §3.1.4.1: the flags of copied messages changed since the last run, set here too. */
  private async updateFlags(
    flow: ImapFlow,
    folder: FolderState,
    target: string,
    since: bigint,
  ): Promise<void> {
    const { store, account } = this.opts;
    const mailbox = await store.getMailbox(account.id, target);
    if (!mailbox) return;
    const lookup = mappingLookup(folder.map);
    const groups = new Map<string, { flags: string[]; uids: number[] }>();
    for await (const m of flow.fetch(
      `1:${folder.lastUid}`,
      { uid: true, flags: true },
      { uid: true, changedSince: since },
    )) {
      const dst = lookup(m.uid);
      if (dst === undefined) continue;
      const flags = cleanFlags(m.flags).sort();
      const key = flags.join(' ');
      const g = groups.get(key);
      if (g) g.uids.push(dst);
      else groups.set(key, { flags, uids: [dst] });
    }
    for (const g of groups.values()) {
      const r = await store.setFlags(mailbox.id, g.uids, 'replace', g.flags);
      this.flagsUpdated += r.updated.length;
    }
  }

  private failReason(err: unknown, what: string): string {
    if (!this.flow.usable) {
      this.lost = text(err);
      return (
        `the connection to the source was lost (${text(err)}); what was copied is complete: ` +
        'run the import again to go on'
      );
    }
    return `${what}: ${text(err)}`;
  }
}

function text(err: unknown): string {
  const e = err as { responseText?: string; message?: string };
  return e?.responseText ?? e?.message ?? String(err);
}
