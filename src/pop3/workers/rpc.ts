// Calls from a POP3 worker to the main process: each gets a number, its reply settles it.
// Errors cross as WireError; a store error comes back as a StoreError with its code, so a
// session handles OVERQUOTA or NOT_FOUND the same in a worker as in the main process.
import { StoreError } from '../../store/errors.js';
import type { Calls, FromWorker, Method, ToWorker, WireError } from './protocol.js';

type Reply = Extract<ToWorker, { t: 'reply' }>;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

export class RpcClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedWith: Error | null = null;

  /** `send` returns false when the channel is gone. */
  constructor(private readonly send: (m: FromWorker) => boolean) {}

  call<M extends Method>(method: M, args: Calls[M]['args']): Promise<Calls[M]['result']> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const rid = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(rid, { resolve: resolve as (v: unknown) => void, reject });
      if (!this.send({ t: 'call', rid, method, args })) {
        this.pending.delete(rid);
        reject(new Error('main process channel closed'));
      }
    });
  }

  settle(reply: Reply): void {
    const p = this.pending.get(reply.rid);
    if (!p) return;
    this.pending.delete(reply.rid);
    if (reply.ok) p.resolve(reply.value);
    else p.reject(fromWire(reply.error));
  }

  /** The channel closed: every call in flight, and every later one, fails with `err`. */
  close(err: Error): void {
    this.closedWith = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

export function toWire(err: unknown): WireError {
  if (err instanceof StoreError) return { message: err.message, code: err.code };
  return { message: err instanceof Error ? err.message : String(err) };
}

function fromWire(e: WireError): Error {
  return e.code ? new StoreError(e.code, e.message) : new Error(e.message);
}
