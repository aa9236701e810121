// Starting one of the program's worker threads (the full-text index, the WAL checkpoints,
// password hashing) from the module beside it, whether running from dist (`.js`) or under
// tsx (tests, `node --import tsx`: `.ts`).
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * The worker `name` (without extension) next to the module at `here` (its import.meta.url).
 * No node flags are inherited: the workers need none, and some the main process may run with
 * break a worker (`--expose-gc` is refused, and `--input-type` from `node --input-type=module
 * -e` rejects a file entry point).
 */
export function startWorker(
  here: string,
  name: string,
  options: Omit<WorkerOptions, 'eval' | 'execArgv'> = {},
): Worker {
  const execArgv: string[] = [];
  if (!here.endsWith('.ts'))
    return new Worker(new URL(`./${name}.js`, here), { ...options, execArgv });
  // Under tsx: a worker's entry module is loaded before an --import in its execArgv takes
  // effect on Node 20, so tsx is registered in the worker first, by hand.
  const entry = new URL(`./${name}.ts`, here).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return new Worker(
    `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`,
    { ...options, eval: true, execArgv },
  );
}
