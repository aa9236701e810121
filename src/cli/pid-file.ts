// `data_dir/letterbox.pid`: written by `letterbox serve` once it listens, removed when it
// stops, so that `letterbox restore` can refuse to pull the store from under a running server.
// A file left by a server that was killed names a process that no longer exists: that one
// does not count (a reused pid could, rarely: then stop the process or remove the file).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const PID_FILE = 'letterbox.pid';

export function writePidFile(dataDir: string): void {
  writeFileSync(join(dataDir, PID_FILE), `${process.pid}\n`, { mode: 0o600 });
}

/** Removes the file if it is still this process's. */
export function removePidFile(dataDir: string): void {
  if (runningServerPid(dataDir) === process.pid) rmSync(join(dataDir, PID_FILE), { force: true });
}

/** The pid of the server running on `dataDir`, or null when none is. */
export function runningServerPid(dataDir: string): number | null {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(join(dataDir, PID_FILE), 'utf8'), 10);
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    // EPERM: it exists, under another user (the service account).
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}
