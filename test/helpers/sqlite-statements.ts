// Counts the SQLite statements a synchronous piece of store code runs, in this process: every
// run, get, all and iterate of better-sqlite3's statements (BEGIN and COMMIT of its
// transactions too). Outside a transaction each statement is a read snapshot of its own, with
// SQLite's read lock taken and dropped: what the store's read paths keep few.
import Database from 'better-sqlite3';

const METHODS = ['run', 'get', 'all', 'iterate'] as const;

/** `f()`'s result and the SQL of the statements it ran, in order (`args`: their parameters). */
export function statementsOf<T>(f: () => T): { value: T; sql: string[]; args: unknown[][] } {
  const { sql, args, restore } = recordStatements();
  try {
    return { value: f(), sql, args };
  } finally {
    restore();
  }
}

/**
 * statementsOf for asynchronous store code: the statements run until `f()`'s promise settles
 * (a write's, which the store's batch runs after the call returns).
 */
export async function statementsDuring<T>(
  f: () => Promise<T>,
): Promise<{ value: T; sql: string[]; args: unknown[][] }> {
  const { sql, args, restore } = recordStatements();
  try {
    return { value: await f(), sql, args };
  } finally {
    restore();
  }
}

function recordStatements(): { sql: string[]; args: unknown[][]; restore: () => void } {
  const probe = new Database(':memory:');
  const proto = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<string, unknown>;
  probe.close();
  const sql: string[] = [];
  const args: unknown[][] = [];
  const saved = METHODS.map((m) => proto[m] as (...a: unknown[]) => unknown);
  METHODS.forEach((m, i) => {
    const original = saved[i]!;
    proto[m] = function (this: Database.Statement, ...params: unknown[]) {
      sql.push(this.source.replace(/\s+/g, ' ').trim());
      args.push(params);
      return original.apply(this, params);
    };
  });
  return {
    sql,
    args,
    restore: () =>
      METHODS.forEach((m, i) => {
        proto[m] = saved[i];
      }),
  };
}
