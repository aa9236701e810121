// A running server with the POP3 listeners (110-style STLS and 995-style implicit TLS), one
// account, and a way to put mail in its INBOX.
import { createPop3Protocol, type Pop3ProtocolOptions } from '../../src/pop3/index.js';
import type { Pop3Policy } from '../../src/store/types.js';
import { rawMessage, simpleIndex } from '../helpers/messages.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

export const USER = 'alice@example.test';
export const PASSWORD = 'correct horse';

export interface Pop3Fixture {
  ts: TestServer;
  accountId: number;
  inboxId: number;
  /** Port of the STLS listener. */
  pop3: number;
  /** Port of the implicit-TLS listener. */
  pop3s: number;
  /** Append messages to the INBOX; returns their UIDs. */
  deliver(...raws: Array<Buffer | string>): Promise<number[]>;
  setPolicy(policy: Pop3Policy): Promise<void>;
  stop(): Promise<void>;
}

export async function startPop3(
  opts: {
    allowPlaintext?: boolean /** Extra lines for [limits]. */;
    limitsToml?: string;
    /** Lines for [pop3] (e.g. `workers = 0`); by default the server's own. */
    workersToml?: string;
  } & Pop3ProtocolOptions = {},
): Promise<Pop3Fixture> {
  const proto = createPop3Protocol({
    idleTimeoutMs: opts.idleTimeoutMs,
    workerEntry: opts.workerEntry,
    workerCrashWindowMs: opts.workerCrashWindowMs,
  });
  const ts = await startTestServer({
    listeners: ['pop3', 'pop3s'],
    protocols: { pop3: proto, pop3s: proto },
    allowPlaintext: opts.allowPlaintext ?? true,
    extraToml: `[limits]\nshutdown_grace_seconds = 2\n${opts.limitsToml ?? ''}\n[pop3]\n${opts.workersToml ?? ''}\n`,
  });
  const store = ts.server.ctx.store;
  const accountId = await ts.addUser(USER, PASSWORD);
  const inbox = await store.getMailbox(accountId, 'INBOX');
  if (!inbox) throw new Error('no INBOX');
  return {
    ts,
    accountId,
    inboxId: inbox.id,
    pop3: ts.port('pop3'),
    pop3s: ts.port('pop3s'),
    async deliver(...raws) {
      const uids: number[] = [];
      for (const r of raws) {
        const raw = typeof r === 'string' ? rawMessage(r) : r;
        const [res] = await store.append({ raw, index: simpleIndex('t', '') }, [
          { mailboxId: inbox.id },
        ]);
        uids.push(res!.uid);
      }
      return uids;
    },
    setPolicy: (policy) => store.setPop3Policy(USER, policy),
    stop: () => ts.stop(),
  };
}
