// Running real SMTP client programs (swaks, python3) from the e2e tests. The server runs in
// this process, so clients run asynchronously; a missing tool fails the test with a clear
// message instead of skipping it.
import { execFile, execFileSync } from 'node:child_process';

/** Throws unless `tool` is on PATH (CI installs it, see .ci/run). */
export function requireTool(tool: string, hint: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${tool} is not installed; these tests need it (${hint})`);
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (bounded), whatever its exit code. */
export function run(cmd: string, args: string[], input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { timeout: 20_000, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: unknown; killed?: boolean }) | null;
        if (e && typeof e.code === 'string') return reject(e);
        if (e?.killed) return reject(new Error(`${cmd} timed out:\n${stdout}\n${stderr}`));
        resolve({ code: typeof e?.code === 'number' ? e.code : 0, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}
