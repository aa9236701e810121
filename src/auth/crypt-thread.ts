// One worker thread for SHA-crypt ({SHA512-CRYPT}, {SHA256-CRYPT}) verification. The only
// maintained implementation (unixcrypt) is synchronous JavaScript, ~35 ms a check at
// Dovecot's default rounds: on the main thread every such login would stall every session.
// The thread starts at the first such login (most servers never have one) and does not keep
// the process alive while idle. Concurrency is bounded before this by the hash pool.
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../worker-thread.js';

export interface CryptRequest {
  id: number;
  password: string;
  hash: string;
}

export interface CryptReply {
  id: number;
  ok: boolean;
}

class CryptThread {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, (ok: boolean) => void>();

  verify(password: string, hash: string): Promise<boolean> {
    const w = this.worker ?? this.spawn();
    const id = this.nextId++;
    return new Promise<boolean>((resolve) => {
      this.pending.set(id, resolve);
      if (this.pending.size === 1) w.ref();
      w.postMessage({ id, password, hash } satisfies CryptRequest);
    });
  }

  private spawn(): Worker {
    const w = startWorker(import.meta.url, 'crypt-worker');
    w.on('message', (m: CryptReply) => this.settle(m.id, m.ok));
    // A thread that fails (out of memory, a bug) fails the checks it had: no login hangs, and
    // the next check starts a new thread.
    const lost = () => {
      if (this.worker !== w) return;
      this.worker = null;
      for (const id of [...this.pending.keys()]) this.settle(id, false);
    };
    w.on('error', lost);
    w.on('exit', lost);
    w.unref();
    this.worker = w;
    return w;
  }

  private settle(id: number, ok: boolean): void {
    const resolve = this.pending.get(id);
    if (resolve === undefined) return;
    this.pending.delete(id);
    resolve(ok);
    if (this.pending.size === 0) this.worker?.unref();
  }
}

const thread = new CryptThread();

/** Checks a password against a `$5$` / `$6$` SHA-crypt string, in the crypt thread. */
export function verifyShaCrypt(password: string, hash: string): Promise<boolean> {
  return thread.verify(password, hash);
}
