/**
 * NOTIFY arguments (RFC 5465 §3.1, §8) parsed to a typed request. Reads from right after the
 * command name to the end and throws ImapParseError on bad syntax (wrap in tryParse).
 *
 *   NOTIFY NONE
 *   NOTIFY SET [STATUS] (filter events) ...
 *     filter = selected / selected-delayed / inboxes / personal / subscribed /
 *              subtree <mailbox or (mailboxes)> / mailboxes <mailbox or (mailboxes)>
 *     events = NONE / (event ...), event = MessageNew [(fetch-att ...)] / MessageExpunge /
 *              FlagChange / AnnotationChange / MailboxName / SubscriptionChange /
 *              MailboxMetadataChange / ServerMetadataChange / any other atom (event-ext)
 *
 * Syntax and the composition rules (§5, §6.1) are BAD; events this server does not support
 * are collected in `unsupported` (the command answers NO [BADEVENT ...], §3.1).
 */
import { type FetchAtt, parseFetchAtt } from '../wire/fetch-items.js';
import type { ArgCursor } from '../wire/parser.js';

/** Event bits. */
export const EV = {
  MessageNew: 1,
  MessageExpunge: 2,
  FlagChange: 4,
  AnnotationChange: 8,
  MailboxName: 16,
  SubscriptionChange: 32,
  MailboxMetadataChange: 64,
  ServerMetadataChange: 128,
} as const;

export type EventName = keyof typeof EV;

/** RFC 5465 §8 message-event: the only ones allowed with selected / selected-delayed (§6.1). */
export const MESSAGE_EVENTS =
  EV.MessageNew | EV.MessageExpunge | EV.FlagChange | EV.AnnotationChange;

/**
 * What this server sends. AnnotationChange needs ANNOTATE (RFC 5257), which is not offered,
 * so it is refused with BADEVENT; the metadata events come with METADATA (RFC 5464; RFC 5465
 * §5.6, §5.7 make them required then).
 */
export const SUPPORTED: readonly EventName[] = [
  'MessageNew',
  'MessageExpunge',
  'FlagChange',
  'MailboxName',
  'SubscriptionChange',
  'MailboxMetadataChange',
  'ServerMetadataChange',
];
const SUPPORTED_MASK = SUPPORTED.reduce((m, e) => m | EV[e], 0);

const EVENT_BY_UPPER = new Map<string, EventName>(
  (Object.keys(EV) as EventName[]).map((e) => [e.toUpperCase(), e]),
);

export type NotifyFilter =
  | { kind: 'selected'; delayed: boolean }
  | { kind: 'inboxes' | 'personal' | 'subscribed' }
  /** Names as the client sent them (decoded to UTF-8 by the command, which knows UTF8=ACCEPT). */
  | { kind: 'subtree' | 'mailboxes'; names: string[] };

export interface EventGroup {
  filter: NotifyFilter;
  /** EV bits; 0 for NONE. */
  events: number;
  /** MessageNew's fetch attributes (RFC 5465 §5.2); empty when none were given. */
  fetch: FetchAtt[];
}

export type NotifyArgs =
  | { kind: 'none' }
  | { kind: 'set'; status: boolean; groups: EventGroup[]; unsupported: string[] };

/** Mailbox names in one NOTIFY SET: more is NO [NOTIFICATIONOVERFLOW] (command.ts). */
export const MAX_NOTIFY_NAMES = 1000;

export function parseNotifyArgs(c: ArgCursor): NotifyArgs {
  c.space();
  const verb = c.word();
  if (verb === 'NONE') {
    c.end();
    return { kind: 'none' };
  }
  if (verb !== 'SET') c.fail('Expected SET or NONE');
  c.space();
  let status = false;
  if (c.peekWord() === 'STATUS') {
    c.word();
    status = true;
    c.space();
  }
  const unsupported: string[] = [];
  const groups: EventGroup[] = [];
  do groups.push(parseGroup(c, unsupported));
  while (c.maybe(' '));
  c.end();
  // §6.1: only one of selected / selected-delayed in a NOTIFY command.
  if (groups.filter((g) => g.filter.kind === 'selected').length > 1) {
    c.fail('Only one of selected and selected-delayed may be given');
  }
  return { kind: 'set', status, groups, unsupported: [...new Set(unsupported)] };

  function parseGroup(g: ArgCursor, bad: string[]): EventGroup {
    g.expect('(', 'an event group');
    const filter = parseFilter(g);
    g.space();
    const group: EventGroup = { filter, events: 0, fetch: [] };
    if (g.peekWord() === 'NONE') {
      g.word();
    } else {
      g.list((e) => parseEvent(e, group, bad), 1);
    }
    g.expect(')', '")" closing the event group');
    checkComposition(g, group);
    return group;
  }
}

function parseFilter(c: ArgCursor): NotifyFilter {
  const word = c.word();
  switch (word) {
    case 'SELECTED':
      return { kind: 'selected', delayed: false };
    case 'SELECTED-DELAYED':
      return { kind: 'selected', delayed: true };
    case 'INBOXES':
    case 'PERSONAL':
    case 'SUBSCRIBED':
      return { kind: word.toLowerCase() as 'inboxes' | 'personal' | 'subscribed' };
    case 'SUBTREE':
    case 'MAILBOXES': {
      c.space();
      // one-or-more-mailbox = mailbox / "(" mailbox *(SP mailbox) ")". §6.6: no wildcards.
      const names = c.peek() === 0x28 ? c.list((l) => l.mailbox(), 1) : [c.mailbox()];
      return { kind: word === 'SUBTREE' ? 'subtree' : 'mailboxes', names };
    }
    default:
      return c.fail(`Unknown NOTIFY mailbox filter ${word || '(none)'}`);
  }
}

function parseEvent(c: ArgCursor, group: EventGroup, unsupported: string[]): void {
  // event-ext = atom: anything that is an atom is syntactically an event (§8).
  const atom = c.atom();
  // RFC 5465 §8: the names are case-insensitive.
  const name = EVENT_BY_UPPER.get(atom.toUpperCase());
  if (!name) {
    unsupported.push(atom);
    return;
  }
  const bit = EV[name];
  if ((bit & SUPPORTED_MASK) === 0) unsupported.push(name);
  group.events |= bit;
  if (name === 'MessageNew' && c.peek() === 0x20) {
    // `MessageNew (fetch-att ...)`: a space then "(" starts its attributes.
    const mark = c.save();
    c.space();
    if (c.peek() === 0x28) group.fetch = c.list(parseFetchAtt, 1);
    else c.restore(mark);
  }
}

/** RFC 5465 §5 and §6.1: what may be given together, each violation a BAD. */
function checkComposition(c: ArgCursor, g: EventGroup): void {
  const e = g.events;
  const newOrExpunge = e & (EV.MessageNew | EV.MessageExpunge);
  if (newOrExpunge !== 0 && newOrExpunge !== (EV.MessageNew | EV.MessageExpunge)) {
    c.fail('MessageNew and MessageExpunge must be given together');
  }
  if (e & (EV.FlagChange | EV.AnnotationChange) && newOrExpunge === 0) {
    c.fail('FlagChange and AnnotationChange need MessageNew and MessageExpunge');
  }
  if (g.filter.kind === 'selected' && (e & ~MESSAGE_EVENTS) !== 0) {
    c.fail('Only message events may be given for the selected mailbox');
  }
}

/** `BADEVENT (MessageNew ...)`: RFC 5465 §3.1, the code lists every supported event. */
export function badEventCode(): string {
  return `BADEVENT (${SUPPORTED.join(' ')})`;
}

/** Decodes names with the session's rules; names that cannot be mailboxes are dropped. */
export function filterNames(names: readonly string[], decode: (n: string) => string): string[] {
  const out: string[] = [];
  for (const n of names) {
    try {
      out.push(decode(n));
    } catch {
      // §6.5/§6.6: a name that cannot refer to a mailbox is ignored.
    }
  }
  return out;
}
