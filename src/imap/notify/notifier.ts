/**
 * One session's NOTIFY state (RFC 5465): which events it asked for, for which mailboxes, and
 * the notifications waiting to be sent. A session that never sent NOTIFY has none of this
 * (`session.notify` is null): 10,000 IDLE sessions pay one null field each.
 *
 * The store's change events arrive synchronously (onEvent); what they say is queued here and
 * written when the session may write (push): between commands, in IDLE, before a command's
 * tagged response. Queued work is coalesced so that a client that does not read cannot grow
 * it without bound: one pending STATUS per mailbox whatever the number of changes, and
 * mailbox-list changes (LIST responses) up to MAX_PENDING; past that the client is told
 * `* OK [NOTIFICATIONOVERFLOW]` and NOTIFY NONE is in effect (§5.8). A client that stops
 * reading altogether is cut off by the connection's write timeout, as for IDLE.
 *
 * What goes out (RFC 5465 §5):
 * - the selected mailbox (selected / selected-delayed, §6.1): the usual EXISTS, EXPUNGE (or
 *   VANISHED) and FETCH FLAGS, pushed as they happen; with selected-delayed, EXPUNGE waits
 *   for a moment RFC 9051 §7.5.1 allows it. MessageNew's fetch attributes follow EXISTS as a
 *   FETCH (§5.2). Without a selected group nothing about the selected mailbox is pushed
 *   (§3.1: the same as SELECTED NONE; in IDLE too, §4); commands still report changes as
 *   RFC 9051 requires.
 * - other mailboxes: `* STATUS name (MESSAGES UIDNEXT UIDVALIDITY UNSEEN [HIGHESTMODSEQ])`
 *   for MessageNew / MessageExpunge / FlagChange (§5.1-§5.3), never for the selected one.
 *   HIGHESTMODSEQ is there when CONDSTORE or QRESYNC is on, or FlagChange was asked for
 *   (§5.1: a flag change is visible to the client only as a new HIGHESTMODSEQ).
 * - MailboxName (§5.4): `* LIST` for a created name, `(\NonExistent)` for a deleted one, and
 *   for a renamed one the new name with `("OLDNAME" (old))`.
 * - SubscriptionChange (§5.5): `* LIST` with `\Subscribed` if and only if subscribed now.
 * - MailboxMetadataChange / ServerMetadataChange (§5.6, §5.7): an unsolicited METADATA
 *   response with the names of the entries set or removed, never their values (RFC 5464
 *   §4.4.2): `* METADATA INBOX /private/comment`, `* METADATA "" /private/x` for the server.
 *   Entries are coalesced per mailbox.
 */
import type { ChangeEvent } from '../../store/types.js';
import { clientMailboxName, mailboxAstring } from '../commands/util.js';
import type { ImapSession } from '../session.js';
import type { MailboxView } from '../view.js';
import type { FetchAtt } from '../wire/fetch-items.js';
import { astring } from '../wire/serializer.js';
import { sendNewFetch } from './fetch-new.js';
import { EV, type EventGroup } from './spec.js';

/** Notifications (mailboxes with a STATUS due, plus LIST responses) held for one session. */
export const MAX_PENDING = 1000;

const MESSAGE_BITS = EV.MessageNew | EV.MessageExpunge | EV.FlagChange;

/** A group for mailboxes other than the selected one, with its names resolved. */
interface OtherGroup {
  kind: 'inboxes' | 'personal' | 'subscribed' | 'subtree' | 'mailboxes';
  names: readonly string[];
  events: number;
}

interface ListNote {
  name: string;
  oldName?: string;
  /** SubscriptionChange: whether the name is subscribed after the change. */
  subscribed?: boolean;
}

export interface NotifySetup {
  groups: readonly EventGroup[];
  /** The names of subtree / mailboxes groups, per group, already in the store's UTF-8 form. */
  names: ReadonlyArray<readonly string[]>;
}

export class Notifier {
  /** EV bits for the selected mailbox (0: none). */
  private selectedEvents = 0;
  private selectedDelayed = false;
  private newFetch: readonly FetchAtt[] = [];
  private others: OtherGroup[] = [];
  /** The account's mailboxes by id (kept current by the mailbox events). */
  private names = new Map<number, string>();
  /** Subscribed names, when a `subscribed` group needs them (§6.4: re-evaluated). */
  private subscribed: Set<string> | null = null;
  private pendingStatus = new Map<number, number>();
  private pendingList: ListNote[] = [];
  /** Changed annotation entries by mailbox id (0: the server's). */
  private pendingMeta = new Map<number, Set<string>>();
  private overflowed = false;
  /** Mailbox events the session's running command causes (§5: not reported to it). */
  private own: ((ev: ChangeEvent) => boolean) | null = null;

  /** NOTIFY NONE (RFC 5465 §3.1): no events at all. */
  static none(): Notifier {
    return new Notifier();
  }

  /** NOTIFY SET: loads the account's mailbox names (and subscriptions if a group needs them). */
  static async create(s: ImapSession, setup: NotifySetup): Promise<Notifier> {
    const n = new Notifier();
    setup.groups.forEach((g, i) => {
      if (g.filter.kind === 'selected') {
        n.selectedEvents = g.events;
        n.selectedDelayed = g.filter.delayed;
        n.newFetch = g.fetch;
      } else if (g.events !== 0) {
        n.others.push({ kind: g.filter.kind, names: setup.names[i] ?? [], events: g.events });
      }
    });
    const account = s.account;
    if (account && n.others.length > 0) {
      for (const mb of await s.ctx.store.listMailboxes(account.id)) n.names.set(mb.id, mb.name);
      if (n.others.some((g) => g.kind === 'subscribed')) {
        n.subscribed = new Set(await s.ctx.store.listSubscriptions(account.id));
      }
    }
    return n;
  }

  /** The events asked for the mailbox called `name` (not the selected one). */
  private wanted(name: string): number {
    let m = 0;
    for (const g of this.others) {
      if (matches(g, name, this.subscribed)) m |= g.events;
    }
    return m;
  }

  /**
   * Notes a committed change of the session's account. True when the session should wake to
   * push it now (it waits for a command or is in IDLE).
   */
  onEvent(ev: ChangeEvent, selectedId: number): boolean {
    switch (ev.kind) {
      case 'append':
      case 'expunge':
      case 'flags': {
        const bit =
          ev.kind === 'append'
            ? EV.MessageNew
            : ev.kind === 'expunge'
              ? EV.MessageExpunge
              : EV.FlagChange;
        if (ev.mailboxId === selectedId) return (this.selectedEvents & bit) !== 0;
        const name = this.names.get(ev.mailboxId);
        if (name === undefined) return false;
        const wanted = this.wanted(name);
        if ((wanted & bit) === 0) return false;
        const had = this.pendingStatus.get(ev.mailboxId);
        if (had === undefined && !this.room()) return true;
        this.pendingStatus.set(ev.mailboxId, (had ?? 0) | wanted);
        return true;
      }
      case 'mailbox-create':
      case 'mailbox-rename':
      case 'mailbox-delete': {
        const name = ev.name;
        if (name === undefined || this.others.length === 0) return false;
        const own = this.own?.(ev) ?? false;
        const old = ev.oldName;
        if (ev.kind === 'mailbox-delete') {
          this.names.delete(ev.mailboxId);
          this.pendingStatus.delete(ev.mailboxId);
          this.pendingMeta.delete(ev.mailboxId);
        } else {
          this.names.set(ev.mailboxId, name);
        }
        if (old !== undefined && this.subscribed?.delete(old)) this.subscribed.add(name);
        const now = this.wanted(name);
        // §5.1: a name that now holds another mailbox has a new UIDVALIDITY, which clients
        // watching its messages learn from a STATUS.
        if (ev.kind !== 'mailbox-delete' && (now & MESSAGE_BITS) !== 0 && !own && this.room()) {
          this.pendingStatus.set(ev.mailboxId, now);
        }
        if (own) return this.pendingStatus.has(ev.mailboxId);
        const wanted = now | (old !== undefined ? this.wanted(old) : 0);
        let wake = this.pendingStatus.has(ev.mailboxId);
        if ((wanted & EV.MailboxName) !== 0) {
          wake = this.noteList(ev.kind === 'mailbox-rename' ? { name, oldName: old } : { name });
        }
        // §5.4: a mailbox created or deleted also affects its direct parent (its children
        // attribute), whether the parent exists or not.
        const cut = name.lastIndexOf('/');
        const parent = cut > 0 ? name.slice(0, cut) : null;
        if (ev.kind !== 'mailbox-rename' && parent !== null) {
          const queued = this.pendingList.some((n) => n.name === parent && n.oldName === undefined);
          if (!queued && (this.wanted(parent) & EV.MailboxName) !== 0) {
            wake = this.noteList({ name: parent });
          }
        }
        return wake;
      }
      case 'metadata': {
        const entries = ev.entries;
        if (!entries || entries.length === 0 || this.others.length === 0) return false;
        if (ev.mailboxId === 0) {
          // §5.7: the server's annotations belong to no mailbox; any group asking for them.
          if (!this.others.some((g) => (g.events & EV.ServerMetadataChange) !== 0)) return false;
        } else {
          const name = this.names.get(ev.mailboxId);
          if (name === undefined || (this.wanted(name) & EV.MailboxMetadataChange) === 0) {
            return false;
          }
        }
        if (this.own?.(ev)) return false;
        let pending = this.pendingMeta.get(ev.mailboxId);
        if (!pending) {
          if (!this.room()) return true;
          pending = new Set();
          this.pendingMeta.set(ev.mailboxId, pending);
        }
        for (const e of entries) pending.add(e);
        return true;
      }
      case 'subscription': {
        const name = ev.name;
        if (name === undefined || this.others.length === 0) return false;
        // §6.4: the subscribed group follows the subscriptions; the change itself is reported
        // if the name was or is now in a group that asked for it.
        let wanted = this.wanted(name);
        if (ev.subscribed) this.subscribed?.add(name);
        else this.subscribed?.delete(name);
        wanted |= this.wanted(name);
        if ((wanted & EV.SubscriptionChange) === 0 || this.own?.(ev)) return false;
        return this.noteList({ name, subscribed: ev.subscribed === true });
      }
      default:
        return false;
    }
  }

  /**
   * RFC 5465 §5: "The server SHOULD omit notifying the client if the event is caused by this
   * client" (a CREATE does not get its own LIST). While the session runs CREATE, DELETE,
   * RENAME, SUBSCRIBE, UNSUBSCRIBE or SETMETADATA, the events for the names it names are its
   * own: another session cannot make the same change at the same moment (one of the two
   * fails, or finds nothing to change).
   */
  beginCommand(s: ImapSession, command: string, args: unknown): void {
    this.own = null;
    if (this.others.length === 0) return;
    const decode = (n: unknown): string | null => {
      if (typeof n !== 'string') return null;
      try {
        return clientMailboxName(s, n.endsWith('/') ? n.slice(0, -1) : n);
      } catch {
        return null;
      }
    };
    const a = args as { name?: unknown; from?: unknown; to?: unknown } | string;
    switch (command) {
      case 'CREATE': {
        // The name and the superiors CREATE makes on the way (RFC 9051 §6.3.4).
        const name = decode(typeof a === 'object' ? a.name : null);
        if (name !== null) {
          this.own = (ev) =>
            ev.kind === 'mailbox-create' &&
            ev.name !== undefined &&
            (ev.name === name || name.startsWith(`${ev.name}/`));
        }
        return;
      }
      case 'DELETE': {
        const name = decode(a);
        if (name !== null) this.own = (ev) => ev.kind === 'mailbox-delete' && ev.name === name;
        return;
      }
      case 'RENAME': {
        const from = decode(typeof a === 'object' ? a.from : null);
        const to = decode(typeof a === 'object' ? a.to : null);
        if (from === null || to === null) return;
        // Renaming INBOX creates the new mailbox (RFC 9051 §6.3.6).
        this.own = (ev) =>
          (ev.kind === 'mailbox-rename' &&
            ev.oldName !== undefined &&
            (ev.oldName === from || ev.oldName.startsWith(`${from}/`))) ||
          (ev.kind === 'mailbox-create' && from === 'INBOX' && ev.name === to);
        return;
      }
      case 'SETMETADATA': {
        const mailbox = typeof a === 'object' ? (a as { mailbox?: unknown }).mailbox : null;
        if (mailbox === '') {
          this.own = (ev) => ev.kind === 'metadata' && ev.mailboxId === 0;
          return;
        }
        const name = decode(mailbox);
        if (name !== null) {
          this.own = (ev) =>
            ev.kind === 'metadata' && ev.mailboxId !== 0 && this.names.get(ev.mailboxId) === name;
        }
        return;
      }
      case 'SUBSCRIBE':
      case 'UNSUBSCRIBE': {
        const name = decode(a);
        if (name !== null) this.own = (ev) => ev.kind === 'subscription' && ev.name === name;
        return;
      }
    }
  }

  endCommand(): void {
    this.own = null;
  }

  private room(): boolean {
    const held = this.pendingStatus.size + this.pendingList.length + this.pendingMeta.size;
    if (held < MAX_PENDING) return true;
    // §5.8: too much to deliver. The queue is dropped now (memory) and the client told at the
    // next moment the session writes.
    this.overflowed = true;
    this.pendingStatus.clear();
    this.pendingList = [];
    this.pendingMeta.clear();
    return false;
  }

  private noteList(note: ListNote): boolean {
    if (this.room()) this.pendingList.push(note);
    return true;
  }

  /**
   * Writes what is due: the selected mailbox's changes if the client asked for them (in IDLE
   * EXPUNGE is always allowed; between commands only with `selected`, §6.1), then the LIST
   * and STATUS notifications of other mailboxes.
   */
  async push(s: ImapSession, inIdle: boolean): Promise<void> {
    if (this.overflowed) {
      // §5.8: "behave as if a NOTIFY NONE command had just been received".
      this.becomeNone();
      s.untaggedStatus(
        'OK',
        'NOTIFICATIONOVERFLOW',
        'Too many notifications to deliver; NOTIFY NONE is in effect',
      );
      return;
    }
    if (this.selectedEvents !== 0 && s.state.kind === 'selected') {
      await s.sendUpdates({ allowExpunge: inIdle || !this.selectedDelayed });
    }
    await this.flushOthers(s);
  }

  private becomeNone(): void {
    this.overflowed = false;
    this.selectedEvents = 0;
    this.newFetch = [];
    this.others = [];
    this.names = new Map();
    this.subscribed = null;
    this.pendingStatus = new Map();
    this.pendingList = [];
    this.pendingMeta = new Map();
  }

  private async flushOthers(s: ImapSession): Promise<void> {
    const lists = this.pendingList;
    const statuses = this.pendingStatus;
    const meta = this.pendingMeta;
    if (lists.length === 0 && statuses.size === 0 && meta.size === 0) return;
    this.pendingList = [];
    this.pendingStatus = new Map();
    this.pendingMeta = new Map();
    for (const note of lists) {
      s.untagged(await this.listLine(s, note));
      await s.maybeFlush();
    }
    for (const [id, entries] of meta) {
      const name = id === 0 ? '' : this.names.get(id);
      if (name === undefined) continue; // deleted meanwhile, and its annotations with it
      const parts = [Buffer.from('METADATA '), mailboxAstring(s, name)];
      for (const e of entries) parts.push(Buffer.from(' '), astring(e));
      s.untagged(Buffer.concat(parts));
    }
    const selectedId = s.selected?.mailbox.id ?? 0;
    for (const [id, wanted] of statuses) {
      const name = this.names.get(id);
      // The selected mailbox is reported by the selected group only (§6.1).
      if (name === undefined || id === selectedId) continue;
      const line = await statusLine(s, id, name, wanted);
      if (line) s.untagged(line);
      await s.maybeFlush();
    }
  }

  /**
   * `LIST (attrs) "/" name [("OLDNAME" (old))]` with the attributes a LIST gives the name now
   * (§5.5: accurately computed).
   */
  private async listLine(s: ImapSession, note: ListNote): Promise<Buffer> {
    const attrs: string[] = [];
    const prefix = `${note.name}/`;
    let id = 0;
    let children = false;
    for (const [i, n] of this.names) {
      if (n === note.name) id = i;
      else if (n.startsWith(prefix)) children = true;
    }
    const mb = id !== 0 ? await s.ctx.store.getMailboxById(id) : null;
    if (!mb || mb.name !== note.name) {
      // §5.4: a name that does not refer to a mailbox is \NonExistent (RFC 5258 spelling).
      attrs.push('\\NonExistent');
      if (children) attrs.push('\\HasChildren');
    } else {
      attrs.push(children ? '\\HasChildren' : '\\HasNoChildren');
      if (mb.specialUse) attrs.push(mb.specialUse);
    }
    // §5.5: \Subscribed if and only if subscribed after the change.
    if (note.subscribed) attrs.push('\\Subscribed');
    const parts = [Buffer.from(`LIST (${attrs.join(' ')}) "/" `), mailboxAstring(s, note.name)];
    if (note.oldName !== undefined) {
      // §5.4: an extended LIST response (RFC 5258) with the OLDNAME extended data item.
      parts.push(Buffer.from(' ("OLDNAME" ('), mailboxAstring(s, note.oldName), Buffer.from('))'));
    }
    return Buffer.concat(parts);
  }

  /** NOTIFY SET STATUS (§3.1): a STATUS for each watched mailbox before the tagged OK. */
  async sendInitialStatus(s: ImapSession): Promise<void> {
    const selectedId = s.selected?.mailbox.id ?? 0;
    for (const [id, name] of this.names) {
      if (id === selectedId) continue;
      const wanted = this.wanted(name);
      if ((wanted & MESSAGE_BITS) === 0) continue;
      const line = await statusLine(s, id, name, wanted);
      if (line) s.untagged(line);
      await s.maybeFlush();
    }
  }

  // ---- MessageNew's fetch attributes (§5.2) -------------------------------------------------

  /** Before the selected mailbox's updates go out: the highest UID announced so far, or -1. */
  beforeUpdates(view: MailboxView): number {
    if (this.newFetch.length === 0 || (this.selectedEvents & EV.MessageNew) === 0) return -1;
    return view.exists > 0 ? (view.uidAt(view.exists) ?? 0) : 0;
  }

  /** After EXISTS: one FETCH with the requested attributes per newly announced message. */
  async afterUpdates(s: ImapSession, view: MailboxView, maxBefore: number): Promise<void> {
    if (maxBefore < 0 || this.newFetch.length === 0) return;
    const fresh: number[] = [];
    for (let seq = view.exists; seq > 0; seq--) {
      const uid = view.uidAt(seq) ?? 0;
      if (uid <= maxBefore) break;
      fresh.push(uid);
    }
    if (fresh.length > 0) await sendNewFetch(s, view, fresh.reverse(), this.newFetch);
  }
}

function matches(g: OtherGroup, name: string, subscribed: Set<string> | null): boolean {
  switch (g.kind) {
    case 'personal':
      // §6.2: every mailbox of the user's personal namespace (the only namespace here).
      return true;
    case 'inboxes':
      // §6.3: mailboxes new mail is delivered to. Delivery only ever files into INBOX.
      return name === 'INBOX';
    case 'subscribed':
      return subscribed?.has(name) ?? false;
    case 'subtree':
      // §6.5: the named mailboxes and all their inferiors.
      return g.names.some((n) => name === n || name.startsWith(`${n}/`));
    case 'mailboxes':
      return g.names.includes(name);
  }
}

/**
 * `STATUS name (MESSAGES n UIDNEXT n UIDVALIDITY n UNSEEN n [HIGHESTMODSEQ n])`, or null
 * when the mailbox is gone. One item set for every case: it holds what §3.1 (MESSAGES,
 * UIDNEXT, UIDVALIDITY), §5.2/§5.3 (UIDNEXT, MESSAGES) and §5.1 (UIDVALIDITY, HIGHESTMODSEQ,
 * UNSEEN) ask for.
 */
async function statusLine(
  s: ImapSession,
  id: number,
  name: string,
  wanted: number,
): Promise<Buffer | null> {
  let st: Awaited<ReturnType<ImapSession['ctx']['store']['mailboxStatus']>>;
  try {
    st = await s.ctx.store.mailboxStatus(id);
  } catch {
    return null; // deleted meanwhile; MailboxName reports that
  }
  let items = `MESSAGES ${st.messages} UIDNEXT ${st.uidNext} UIDVALIDITY ${st.uidValidity} UNSEEN ${st.unseen}`;
  if (s.enabled.condstore || s.enabled.qresync || (wanted & EV.FlagChange) !== 0) {
    items += ` HIGHESTMODSEQ ${st.highestModseq}`;
  }
  return Buffer.concat([
    Buffer.from('STATUS '),
    mailboxAstring(s, name),
    Buffer.from(` (${items})`),
  ]);
}
