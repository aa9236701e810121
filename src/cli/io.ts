// Console output and password input for the CLI.
import { createInterface } from 'node:readline';
import { passwordProblem } from '../admin/schemas.js';

export interface Out {
  line(s: string): void;
  json(v: unknown): void;
  table(rows: string[][]): void;
}

export const stdout: Out = {
  line: (s) => process.stdout.write(`${s}\n`),
  json: (v) => process.stdout.write(`${JSON.stringify(v, null, 2)}\n`),
  table(rows) {
    if (rows.length === 0) return;
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
    for (const r of rows) {
      process.stdout.write(
        `${r
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd()}\n`,
      );
    }
  },
};

/** Reads the whole of stdin and returns its first line (the password), without the newline. */
export async function readPasswordFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text.split(/\r?\n/)[0] ?? '';
}

/** Asks once on the terminal (stderr) without echo. */
export function promptSecret(q: string): Promise<string> {
  return new Promise<string>((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    // Mute the echo: readline writes what is typed through _writeToOutput.
    const r = rl as unknown as { _writeToOutput: (s: string) => void };
    process.stderr.write(q);
    r._writeToOutput = () => {};
    rl.question('', (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
  });
}

/** Prompts twice on the terminal without echo. */
export async function promptPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new Error('no terminal to prompt for a password: use --password-stdin');
  }
  const ask = promptSecret;
  const a = await ask('Password: ');
  const b = await ask('Again: ');
  if (a !== b) throw new Error('the passwords differ');
  return a;
}

/** The password from stdin or the terminal, at least `minLength` characters (`[auth]`). */
export async function getPassword(
  opts: { passwordStdin?: boolean },
  minLength = 1,
): Promise<string> {
  const pw = opts.passwordStdin ? await readPasswordFromStdin() : await promptPassword();
  const problem = passwordProblem(pw, minLength);
  if (problem !== null) throw new Error(problem);
  return pw;
}

/**
 * Asks a yes/no question on the terminal; true only for "y" or "yes". Throws when there is no
 * terminal: a script must say what it means (e.g. with --yes), never get a default.
 */
export async function confirm(question: string, noTtyHint: string): Promise<boolean> {
  if (!process.stdin.isTTY) throw new Error(`no terminal to confirm: ${noTtyHint}`);
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const answer = await new Promise<string>((resolve) => rl.question(`${question} [y/N] `, resolve));
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

/** A warning for the operator, on stderr (stdout stays the command's result). */
export function warn(message: string): void {
  process.stderr.write(`letterbox: warning: ${message}\n`);
}
