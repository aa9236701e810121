// A DNS server on loopback for the SMTP tests (dns2, UDP): answers TXT/A records the test
// publishes and NXDOMAIN for everything else, so inbound checks never reach a real resolver.
// Also a "black hole" UDP socket that receives queries and never answers.
import dgram from 'node:dgram';
import { createServer, Packet } from 'dns2';

export interface TestDns {
  /** `127.0.0.1:PORT`, for `[dns] servers`. */
  address: string;
  /** Publish records for a name (replaces earlier ones of that type). */
  set(name: string, type: 'TXT' | 'A', values: string[]): void;
  /** Names asked so far, as `name TYPE`. */
  queries: string[];
  close(): Promise<void>;
}

/** RFC 1035 §3.3.14: a TXT character-string holds at most 255 octets; split longer ones. */
function txtStrings(value: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < value.length; i += 255) out.push(value.slice(i, i + 255));
  return out.length > 0 ? out : [''];
}

/** RFC 1035 §4.1.1 RCODE 3: the name does not exist (dns2 has no typing for its RCODE table). */
const NXDOMAIN = 3;

const TYPE_NAMES = new Map<number, string>(Object.entries(Packet.TYPE).map(([k, v]) => [v, k]));

export async function startDns(): Promise<TestDns> {
  const records = new Map<string, Map<string, string[]>>();
  const queries: string[] = [];
  const server = createServer({
    udp: true,
    handle: (request, send) => {
      const response = Packet.createResponseFromRequest(request);
      const q = request.questions[0];
      if (!q) return send(response);
      const name = q.name.toLowerCase().replace(/\.$/, '');
      const type = TYPE_NAMES.get(q.type) ?? String(q.type);
      queries.push(`${name} ${type}`);
      const byType = records.get(name);
      if (!byType) {
        response.header.rcode = NXDOMAIN;
        return send(response);
      }
      for (const value of byType.get(type) ?? []) {
        if (type === 'TXT') {
          response.answers.push({
            name: q.name,
            type: Packet.TYPE.TXT,
            class: Packet.CLASS.IN,
            ttl: 60,
            data: txtStrings(value),
          } as never);
        } else {
          response.answers.push({
            name: q.name,
            type: Packet.TYPE.A,
            class: Packet.CLASS.IN,
            ttl: 60,
            address: value,
          } as never);
        }
      }
      send(response);
    },
  });
  const addrs = await server.listen({ udp: { port: 0, address: '127.0.0.1' } });
  const port = (addrs as unknown as { udp: { port: number } }).udp.port;
  return {
    address: `127.0.0.1:${port}`,
    queries,
    set(name, type, values) {
      const key = name.toLowerCase();
      const byType = records.get(key) ?? new Map<string, string[]>();
      byType.set(type, values);
      records.set(key, byType);
    },
    close: () => server.close(),
  };
}

/** A UDP port that takes queries and never answers: DNS as on a machine with no network. */
export async function startBlackHole(): Promise<{
  address: string;
  received: () => number;
  close(): Promise<void>;
}> {
  const sock = dgram.createSocket('udp4');
  let count = 0;
  sock.on('message', () => count++);
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${sock.address().port}`,
    received: () => count,
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}
