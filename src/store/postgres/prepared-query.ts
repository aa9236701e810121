// The node's prepared statements without a Describe at each execution (issue 17). The `pg`
// driver sends Parse (once per connection), Bind, Describe(portal), Execute and Sync for every
// execution of a named statement, and builds the result's fields and type parsers again from
// the RowDescription that each Describe brings back (RowDescription parsed into objects, then
// `Result.addFields`). A named statement's row shape is fixed by its text once the schema is
// (migrations run before anything else is sent): it is learnt at the statement's first
// execution on each connection, with its Parse, and kept with the connection; later executions
// send Bind, Execute and Sync only (the extended query protocol lets Execute follow Bind with
// no Describe: PostgreSQL's protocol, "Extended Query"), their rows parsed with the fields and
// parsers kept. Everything else is the driver's own Query: pipelining (each execution its own
// Sync: one that fails fails alone), query timeouts, a lost connection, errors.
//
// Should a statement's shape change under a running node (a schema changed by hand), its
// statement prepared before on the connection fails in PostgreSQL ("cached plan must not change
// result type") with or without a Describe; a connection made since prepares and describes
// the statement anew.
import { createRequire } from 'node:module';
import pg from 'pg';

interface Shape {
  fields: pg.FieldDef[];
  parsers: Array<(v: string) => unknown>;
  /** The row object with every column null, which `Result.parseRow` copies for each row. */
  empty: Record<string, null>;
}

/** The parts of pg's Result and Connection this file uses (not in pg's types). */
interface ResultInternals {
  fields: pg.FieldDef[];
  _parsers?: Array<(v: string) => unknown>;
  _prebuiltEmptyResultObject: Record<string, null> | null;
}
interface ConnectionInternals {
  parsedStatements: Record<string, string>;
  submittedNamedStatements: Record<string, string>;
  parse(q: { text: string; name: string; types?: unknown }): void;
  bind(b: {
    portal: string;
    statement: string;
    values: unknown[] | undefined;
    binary?: boolean;
    valueMapper: unknown;
  }): void;
  execute(e: { portal: string; rows?: number }): void;
  close(c: { type: string; name: string }): void;
  sync(): void;
}
interface QueryInternals {
  name?: string;
  text: string;
  values?: unknown[];
  types?: unknown;
  binary?: boolean;
  portal: string;
  rows?: number;
  _result: ResultInternals;
  _accumulateRows: boolean;
  hasBeenParsed(c: ConnectionInternals): boolean;
  handleError(err: unknown, c: ConnectionInternals): void;
  prepare(c: ConnectionInternals): void;
  handleRowDescription(msg: unknown): void;
  handleCommandComplete(msg: unknown, c: ConnectionInternals): void;
}

/**
 * Row shapes by connection and statement name, each learnt from the statement's first
 * Describe on that connection (its own prepared statement's).
 */
const shapesOf = new WeakMap<object, Map<string, Shape>>();

function shapes(connection: object): Map<string, Shape> {
  let m = shapesOf.get(connection);
  if (m === undefined) {
    m = new Map();
    shapesOf.set(connection, m);
  }
  return m;
}

// pg's own mapping of JavaScript values to the wire's (arrays, Buffers, dates, nulls), as its
// Query uses: the values are sent exactly as before.
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as {
  prepareValue: unknown;
};

const BaseQuery = pg.Query as unknown as new (config: pg.QueryConfig) => QueryInternals;

/** A named statement's execution that skips Describe once the statement's shape is known. */
export class PreparedQuery extends BaseQuery {
  /** The connection's shapes, when this execution sent a Describe (its shape not known). */
  private learn: Map<string, Shape> | null = null;
  private sawRows = false;

  override prepare(connection: ConnectionInternals): void {
    const name = this.name;
    const known = shapes(connection);
    const shape = name === undefined || this.rows ? undefined : known.get(name);
    if (shape === undefined) {
      this.learn = known;
      super.prepare(connection);
      return;
    }
    if (!this.hasBeenParsed(connection)) {
      connection.parse({ text: this.text, name: name as string, types: this.types });
      connection.submittedNamedStatements[name as string] = this.text;
    }
    try {
      connection.bind({
        portal: this.portal,
        statement: name as string,
        values: this.values,
        binary: this.binary,
        valueMapper: prepareValue,
      });
    } catch (err) {
      // As pg's Query does: the statement parsed above is closed, the error is the caller's.
      connection.close({ type: 'S', name: name as string });
      connection.sync();
      this.handleError(err, connection);
      return;
    }
    const result = this._result;
    result.fields = shape.fields;
    result._parsers = shape.parsers;
    result._prebuiltEmptyResultObject = shape.empty;
    // What handleRowDescription would have set: the rows are kept for the callback.
    this._accumulateRows = true;
    connection.execute({ portal: this.portal });
    connection.sync();
  }

  override handleRowDescription(msg: unknown): void {
    super.handleRowDescription(msg);
    this.sawRows = true;
  }

  override handleCommandComplete(msg: unknown, c: ConnectionInternals): void {
    const name = this.name;
    if (this.learn !== null && name !== undefined && !this.learn.has(name)) {
      const r = this._result;
      // A statement that returns no rows (NoData to its Describe) has no fields.
      this.learn.set(
        name,
        this.sawRows
          ? {
              fields: r.fields,
              parsers: r._parsers ?? [],
              empty: r._prebuiltEmptyResultObject ?? {},
            }
          : { fields: [], parsers: [], empty: {} },
      );
    }
    super.handleCommandComplete(msg, c);
  }
}

/** Whether `config` is one of our prepared statements (a name and text, nothing else asked). */
function isPlainPrepared(config: unknown): config is pg.QueryConfig & { name: string } {
  if (config === null || typeof config !== 'object') return false;
  const c = config as Record<string, unknown>;
  return (
    typeof c.name === 'string' &&
    typeof c.text === 'string' &&
    typeof c.submit !== 'function' &&
    c.rowMode === undefined &&
    c.rows === undefined &&
    c.binary === undefined &&
    c.types === undefined &&
    c.callback === undefined &&
    c.query_timeout === undefined
  );
}

type QueryFn = (config: unknown, values?: unknown, callback?: unknown) => unknown;
type Callback = (err: Error | null, res?: pg.QueryResult) => void;

/** pg's own, looked up at each call (a test may wrap it to see what is sent). */
const superQuery = (): QueryFn => pg.Client.prototype.query as unknown as QueryFn;

/**
 * A `pg.Client` whose named statements run as PreparedQuery; everything else (text, LISTEN,
 * BEGIN, a statement with options of its own) as before. The node's pool, its shared reads and
 * LISTEN connections are of this class.
 */
export class PreparedClient extends pg.Client {}

(PreparedClient.prototype as unknown as { query: QueryFn }).query = function (
  this: pg.Client,
  config: unknown,
  values?: unknown,
  callback?: unknown,
) {
  if (!isPlainPrepared(config) || (values !== undefined && typeof values !== 'function')) {
    return superQuery().call(this, config, values, callback);
  }
  const cb = (typeof values === 'function' ? values : callback) as Callback | undefined;
  const q = new PreparedQuery(config) as unknown as { callback?: Callback };
  if (cb) {
    // pg-pool's pool.query: the driver calls back, nothing is returned.
    q.callback = cb;
    superQuery().call(this, q);
    return undefined;
  }
  return new Promise<pg.QueryResult>((resolve, reject) => {
    q.callback = (err, res) => (err ? reject(err) : resolve(res as pg.QueryResult));
    superQuery().call(this, q);
  });
};
