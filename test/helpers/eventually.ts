// Waits for something the server does soon but not before its reply (batched work such as
// POP3's \Seen marks): polls until `check` returns true, failing after `timeoutMs`. The
// default is generous: it bounds a hang, not a delay. What comes soon on a quiet machine can
// take seconds on a loaded one, e.g. a worker thread's start (tsx compiling its modules): with
// eight test processes on two CPUs, fts.db's worker made its tables 8-10 s after the store
// opened, past the 5 s this default was.
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
