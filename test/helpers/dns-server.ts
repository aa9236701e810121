// A DNS server on loopback for the outbound tests (dns2, UDP and TCP on the same random port,
// so a truncated UDP answer is retried over TCP as c-ares does). It answers like a recursive
// resolver from a table the test sets: MX, A, AAAA, TXT, CNAME (a CNAME chain is followed and
// put in the answer before the records of its target), NXDOMAIN for a name not in the table,
// an empty NOERROR (NODATA) for a name without records of the type asked, and SERVFAIL or no
// answer at all (a timeout) for the names the test says.
import type dgram from 'node:dgram';
import type net from 'node:net';
import { createTCPServer, createUDPServer, type DnsHandler, Packet } from 'dns2';

export interface MxRecord {
  priority: number;
  /** The MX target; '' or '.' for the RFC 7505 null MX. */
  exchange: string;
}

export interface DnsRecords {
  MX?: MxRecord[];
  A?: string[];
  AAAA?: string[];
  /** Each record a string (split into 255-octet strings) or its strings as they are. */
  TXT?: Array<string | string[]>;
  /** An alias: the name has no other records (RFC 1034 §3.6.2). */
  CNAME?: string;
  /** RFC 2782 service records (RFC 6186 mail services). */
  SRV?: Array<{ priority: number; weight: number; port: number; target: string }>;
}

export type Failure = 'SERVFAIL' | 'NXDOMAIN' | 'timeout';

export interface TestDnsServer {
  /** `127.0.0.1:PORT`, for `[dns] servers` or createResolver. */
  address: string;
  port: number;
  /** Publish a name's records, replacing whatever it had. */
  set(name: string, records: DnsRecords): void;
  /** Add to a name's records of one type. */
  add<T extends keyof DnsRecords>(name: string, type: T, values: NonNullable<DnsRecords[T]>): void;
  /** Remove a name (it becomes NXDOMAIN unless a name below it exists). */
  remove(name: string): void;
  /** Make every query for a name fail this way (null: answer from the table again). */
  fail(name: string, failure: Failure | null): void;
  /** Queries received, as `name TYPE` (lowercase name without the final dot). */
  queries: string[];
  close(): Promise<void>;
}

const TYPE_NAMES = new Map<number, string>(Object.entries(Packet.TYPE).map(([k, v]) => [v, k]));
/** RFC 1035 §4.1.1 response codes. */
const RCODE = { SERVFAIL: 2, NXDOMAIN: 3 } as const;

function norm(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** RFC 1035 §3.3.14: a TXT character-string holds at most 255 octets; split longer ones. */
function txtStrings(value: string | string[]): string[] {
  if (Array.isArray(value)) return value;
  const out: string[] = [];
  for (let i = 0; i < value.length; i += 255) out.push(value.slice(i, i + 255));
  return out.length > 0 ? out : [''];
}

export async function startDnsServer(): Promise<TestDnsServer> {
  const table = new Map<string, DnsRecords>();
  const failures = new Map<string, Failure>();
  const queries: string[] = [];

  /** A name exists if it has records or a name below it does (an empty non-terminal). */
  const exists = (name: string) => {
    if (table.has(name)) return true;
    for (const k of table.keys()) if (k.endsWith(`.${name}`)) return true;
    return false;
  };

  const handle: DnsHandler = (request, send) => {
    const response = Packet.createResponseFromRequest(request);
    response.header.ra = 1;
    const q = request.questions[0];
    if (!q) return void send(response);
    const type = TYPE_NAMES.get(q.type) ?? String(q.type);
    let name = norm(q.name);
    queries.push(`${name} ${type}`);
    const answer = (rr: Record<string, unknown>, type: number, owner: string) =>
      response.answers.push({ name: owner, type, class: Packet.CLASS.IN, ttl: 60, ...rr } as never);
    // Follow a CNAME chain as a recursive resolver does, at most 8 links.
    for (let hops = 0; hops <= 8; hops++) {
      const failure = failures.get(name);
      if (failure === 'timeout') return;
      if (failure) {
        response.header.rcode = RCODE[failure];
        return void send(response);
      }
      const rec = table.get(name);
      if (!rec && !exists(name)) {
        response.header.rcode = RCODE.NXDOMAIN;
        return void send(response);
      }
      if (rec?.CNAME && type !== 'CNAME') {
        answer({ domain: rec.CNAME }, Packet.TYPE.CNAME, name);
        name = norm(rec.CNAME);
        continue;
      }
      if (type === 'CNAME' && rec?.CNAME) answer({ domain: rec.CNAME }, Packet.TYPE.CNAME, name);
      if (type === 'MX') {
        for (const mx of rec?.MX ?? []) {
          answer({ priority: mx.priority, exchange: mx.exchange }, Packet.TYPE.MX, name);
        }
      }
      if (type === 'A') for (const a of rec?.A ?? []) answer({ address: a }, Packet.TYPE.A, name);
      if (type === 'AAAA') {
        for (const a of rec?.AAAA ?? []) answer({ address: a }, Packet.TYPE.AAAA, name);
      }
      if (type === 'TXT') {
        for (const t of rec?.TXT ?? []) answer({ data: txtStrings(t) }, Packet.TYPE.TXT, name);
      }
      if (type === 'SRV') for (const v of rec?.SRV ?? []) answer({ ...v }, Packet.TYPE.SRV, name);
      return void send(response);
    }
    response.header.rcode = RCODE.SERVFAIL;
    send(response);
  };

  const { udp, tcp, port } = await listenBoth(handle);
  return {
    address: `127.0.0.1:${port}`,
    port,
    queries,
    set(name, records) {
      table.set(norm(name), structuredClone(records));
    },
    add(name, type, values) {
      const rec = table.get(norm(name)) ?? {};
      if (type === 'CNAME') rec.CNAME = values as string;
      else (rec[type] as unknown[]) = [...((rec[type] as unknown[]) ?? []), ...(values as [])];
      table.set(norm(name), rec);
    },
    remove(name) {
      table.delete(norm(name));
    },
    fail(name, failure) {
      if (failure) failures.set(norm(name), failure);
      else failures.delete(norm(name));
    },
    close: async () => {
      await new Promise<void>((r) => udp.close(() => r()));
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
}

/** A UDP socket on a random port, then TCP on the same port (again if that one is taken). */
async function listenBoth(
  handle: DnsHandler,
): Promise<{ udp: dgram.Socket; tcp: net.Server; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const udp = createUDPServer(handle);
    await udp.listen(0, '127.0.0.1');
    const port = udp.address().port;
    const tcp = createTCPServer(handle);
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, '127.0.0.1', () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      return { udp, tcp, port };
    } catch (err) {
      await new Promise<void>((r) => udp.close(() => r()));
      if (attempt >= 20) throw err;
    }
  }
}
