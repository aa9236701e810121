// CLI exit codes: 0 done, 1 the operation was refused (no such user, already exists, ...),
// 2 bad usage or configuration (bad argument, config error, port in use). Scripts rely on them.
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_USAGE,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
