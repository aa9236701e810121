// NOTIFY (RFC 5465 §3.1): NOTIFY NONE, NOTIFY SET [STATUS] event-groups. The request is
// parsed by notify/spec.ts; notify/notifier.ts keeps the session's events and sends them.

import { Notifier } from '../notify/notifier.js';
import { badEventCode, filterNames, MAX_NOTIFY_NAMES, parseNotifyArgs } from '../notify/spec.js';
import { no, ok } from '../responses.js';
import { AUTHED, command } from './types.js';
import { clientMailboxName } from './util.js';

export const NOTIFY = command({
  name: 'NOTIFY',
  states: AUTHED,
  parse: parseNotifyArgs,
  async run(s, a) {
    if (a.kind === 'none') {
      s.notify = Notifier.none();
      return ok('NOTIFY completed');
    }
    // §3.1: an unsupported event is a tagged NO (not BAD) whose BADEVENT code lists the
    // supported ones; the earlier NOTIFY stays in effect.
    if (a.unsupported.length > 0) {
      throw no(badEventCode(), `Unsupported NOTIFY events: ${a.unsupported.join(' ')}`);
    }
    const names = a.groups.map((g) =>
      'names' in g.filter ? filterNames(g.filter.names, (n) => clientMailboxName(s, n)) : [],
    );
    // §3.1: a request too expensive to serve may be refused with NOTIFICATIONOVERFLOW.
    if (names.reduce((sum, n) => sum + n.length, 0) > MAX_NOTIFY_NAMES) {
      throw no('NOTIFICATIONOVERFLOW', 'Too many mailbox names');
    }
    const notifier = await Notifier.create(s, { groups: a.groups, names });
    s.notify = notifier;
    // §3.1: with STATUS, one STATUS per watched mailbox before the tagged OK. The implicit
    // NOOP (pending changes of the selected mailbox) is the dispatcher's, after this handler.
    if (a.status) await notifier.sendInitialStatus(s);
    return ok('NOTIFY completed');
  },
});
