// Client autoconfiguration on the HTTP listener: the Thunderbird clientConfig, the Autodiscover
// POX response and the Apple profile, each read back with an independent parser and checked
// server by server (host, port, TLS kind, order); the requests each answers and refuses.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import {
  autodiscoverError,
  autodiscoverResponse,
  OUTLOOK_RESPONSE_NS,
  parseAutodiscoverRequest,
  RESPONSE_NS,
} from '../../src/http/autoconfig/autodiscover.js';
import { appleMobileconfig, stableUuid } from '../../src/http/autoconfig/mobileconfig.js';
import {
  autoconfigRoutes,
  domainOfHost,
  MAX_REQUEST_BODY,
} from '../../src/http/autoconfig/routes.js';
import { clientServices } from '../../src/http/autoconfig/services.js';
import { thunderbirdConfig } from '../../src/http/autoconfig/thunderbird.js';
import { elementText, xmlEscape, xmlUnescape } from '../../src/http/autoconfig/xml.js';
import { type HttpListener, startHttp } from '../../src/http/server.js';
import { silentLogger } from '../../src/log.js';
import type { MailStore } from '../../src/store/types.js';
import { children, childText, parsePlist, parseXml, type XmlElement } from '../helpers/xml-read.js';

/** A config from TOML: listener overrides as `name: "key = value; ..."`. */
function config(hostname: string, listeners: Record<string, string> = {}): Config {
  const sections = Object.entries(listeners)
    .map(([n, kv]) => `[listeners.${n}]\n${kv.split(';').join('\n')}\n`)
    .join('');
  return parseConfig(`hostname = "${hostname}"\n${sections}`, '/tmp/lb-autoconfig.toml');
}

/** The standard ports, as `init --standard-ports` writes them. */
const STANDARD = {
  smtp: 'port = 25',
  submission: 'port = 587',
  submissions: 'port = 465',
  imap: 'port = 143',
  imaps: 'port = 993',
  pop3: 'port = 110',
  pop3s: 'port = 995',
};

type Server = [type: string, host: string, port: number, socket: string];

/** The servers of a clientConfig document, in document order. */
function thunderbirdServers(xml: string): { incoming: Server[]; outgoing: Server[] } {
  const root = parseXml(xml);
  assert.equal(root.tag, 'clientConfig');
  assert.equal(root.attrs.version, '1.1');
  const [provider] = children(root, 'emailProvider');
  const read = (e: XmlElement): Server => {
    assert.equal(childText(e, 'username'), '%EMAILADDRESS%');
    assert.equal(childText(e, 'authentication'), 'password-cleartext');
    return [
      e.attrs.type!,
      childText(e, 'hostname'),
      Number(childText(e, 'port')),
      childText(e, 'socketType'),
    ];
  };
  return {
    incoming: children(provider!, 'incomingServer').map(read),
    outgoing: children(provider!, 'outgoingServer').map(read),
  };
}

/** The Protocol elements of an Autodiscover response: type, server, port, encryption, login. */
function autodiscoverProtocols(xml: string): Array<[string, string, number, string, string]> {
  const root = parseXml(xml);
  assert.equal(root.tag, 'Autodiscover');
  assert.equal(root.ns, RESPONSE_NS);
  const [response] = children(root, 'Response');
  assert.equal(response!.ns, OUTLOOK_RESPONSE_NS);
  const [account] = children(response!, 'Account');
  assert.equal(childText(account!, 'AccountType'), 'email');
  assert.equal(childText(account!, 'Action'), 'settings');
  return children(account!, 'Protocol').map((p) => {
    assert.equal(childText(p, 'SSL'), 'on');
    assert.equal(childText(p, 'AuthRequired'), 'on');
    assert.equal(childText(p, 'SPA'), 'off');
    return [
      childText(p, 'Type'),
      childText(p, 'Server'),
      Number(childText(p, 'Port')),
      childText(p, 'Encryption'),
      childText(p, 'LoginName'),
    ];
  });
}

describe('client services from the config', () => {
  const cases: Array<{
    name: string;
    cfg: Config;
    incoming: Server[];
    outgoing: Server[];
  }> = [
    {
      name: 'standard ports: implicit TLS first (RFC 8314 §5.1), port 25 never',
      cfg: config('mail.example.test', STANDARD),
      incoming: [
        ['imap', 'mail.example.test', 993, 'SSL'],
        ['pop3', 'mail.example.test', 995, 'SSL'],
        ['imap', 'mail.example.test', 143, 'STARTTLS'],
        ['pop3', 'mail.example.test', 110, 'STARTTLS'],
      ],
      outgoing: [
        ['smtp', 'mail.example.test', 465, 'SSL'],
        ['smtp', 'mail.example.test', 587, 'STARTTLS'],
      ],
    },
    {
      name: 'the development ports of a fresh init, hostname case and final dot dropped',
      cfg: config('Mail.Example.TEST.'),
      incoming: [
        ['imap', 'mail.example.test', 2993, 'SSL'],
        ['pop3', 'mail.example.test', 2995, 'SSL'],
        ['imap', 'mail.example.test', 2143, 'STARTTLS'],
        ['pop3', 'mail.example.test', 2110, 'STARTTLS'],
      ],
      outgoing: [
        ['smtp', 'mail.example.test', 2465, 'SSL'],
        ['smtp', 'mail.example.test', 2587, 'STARTTLS'],
      ],
    },
    {
      name: 'only configured listeners: disabled ones and ones without TLS are left out',
      cfg: config('mx.example.test', {
        ...STANDARD,
        imaps: 'port = 993;enabled = false',
        pop3s: 'enabled = false',
        pop3: 'port = 110;tls = "none"',
        submissions: 'enabled = false',
      }),
      incoming: [['imap', 'mx.example.test', 143, 'STARTTLS']],
      outgoing: [['smtp', 'mx.example.test', 587, 'STARTTLS']],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const services = clientServices(c.cfg);
      const tb = thunderbirdServers(thunderbirdConfig('example.test', services));
      assert.deepEqual(tb.incoming, c.incoming);
      assert.deepEqual(tb.outgoing, c.outgoing);
      // Autodiscover lists the same servers in the same order (incoming, then outgoing, each
      // in preference order, as clientServices ranks them).
      const ad = autodiscoverProtocols(autodiscoverResponse('you@example.test', services));
      const enc = (s: string) => (s === 'SSL' ? 'SSL' : 'TLS');
      assert.deepEqual(
        ad.filter((p) => p[0] !== 'SMTP').map((p) => [p[0].toLowerCase(), p[1], p[2], p[3], p[4]]),
        c.incoming.map((s) => [s[0], s[1], s[2], enc(s[3]), 'you@example.test']),
      );
      assert.deepEqual(
        ad.filter((p) => p[0] === 'SMTP').map((p) => [p[1], p[2], p[3]]),
        c.outgoing.map((s) => [s[1], s[2], enc(s[3])]),
      );
      // Apple Mail takes one of each: IMAP if there is one, implicit TLS if configured.
      const profile = parsePlist(appleMobileconfig(c.cfg.hostname, 'you@example.test', services)!);
      const [acct] = profile.PayloadContent as Array<Record<string, unknown>>;
      const firstImap = c.incoming.find((s) => s[0] === 'imap') ?? c.incoming[0]!;
      assert.equal(acct!.IncomingMailServerHostName, firstImap[1]);
      assert.equal(acct!.IncomingMailServerPortNumber, firstImap[2]);
      assert.equal(acct!.OutgoingMailServerPortNumber, c.outgoing[0]![2]);
    });
  }

  test('no client listener at all: an empty list, and no Apple profile', () => {
    const none = config('mail.example.test', {
      imap: 'enabled = false',
      imaps: 'enabled = false',
      pop3: 'enabled = false',
      pop3s: 'enabled = false',
      submission: 'enabled = false',
      submissions: 'enabled = false',
    });
    assert.deepEqual(clientServices(none), []);
    assert.equal(appleMobileconfig('mail.example.test', 'a@example.test', []), null);
  });
});

describe('the Apple profile', () => {
  test('a com.apple.mail.managed payload for the address, stable identifiers', () => {
    const services = clientServices(config('mail.example.test', STANDARD));
    const xml = appleMobileconfig('mail.example.test', 'you@example.test', services)!;
    const p = parsePlist(xml);
    assert.equal(p.PayloadType, 'Configuration');
    assert.equal(p.PayloadVersion, 1);
    assert.match(
      String(p.PayloadUUID),
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    assert.match(String(p.PayloadIdentifier), /^test\.example\.mail\.letterbox\.profile\./);
    const content = p.PayloadContent as Array<Record<string, unknown>>;
    assert.equal(content.length, 1);
    const a = content[0]!;
    assert.deepEqual(
      {
        type: a.PayloadType,
        kind: a.EmailAccountType,
        address: a.EmailAddress,
        inHost: a.IncomingMailServerHostName,
        inPort: a.IncomingMailServerPortNumber,
        inSsl: a.IncomingMailServerUseSSL,
        inUser: a.IncomingMailServerUsername,
        inAuth: a.IncomingMailServerAuthentication,
        outHost: a.OutgoingMailServerHostName,
        outPort: a.OutgoingMailServerPortNumber,
        outSsl: a.OutgoingMailServerUseSSL,
        outUser: a.OutgoingMailServerUsername,
        same: a.OutgoingPasswordSameAsIncomingPassword,
      },
      {
        type: 'com.apple.mail.managed',
        kind: 'EmailTypeIMAP',
        address: 'you@example.test',
        inHost: 'mail.example.test',
        inPort: 993,
        inSsl: true,
        inUser: 'you@example.test',
        inAuth: 'EmailAuthPassword',
        outHost: 'mail.example.test',
        outPort: 465,
        outSsl: true,
        outUser: 'you@example.test',
        same: true,
      },
    );
    assert.notEqual(a.PayloadUUID, p.PayloadUUID);
    // The same account gets the same identifiers (a new profile replaces the old one).
    assert.equal(appleMobileconfig('mail.example.test', 'you@example.test', services), xml);
    assert.notEqual(stableUuid('h', 'a@b', 'x'), stableUuid('h', 'a@c', 'x'));
  });

  test('POP3 only: EmailTypePOP', () => {
    const services = clientServices(
      config('mail.example.test', { imap: 'enabled = false', imaps: 'enabled = false' }),
    );
    const p = parsePlist(appleMobileconfig('mail.example.test', 'a@example.test', services)!);
    const [a] = p.PayloadContent as Array<Record<string, unknown>>;
    assert.equal(a!.EmailAccountType, 'EmailTypePOP');
    assert.equal(a!.IncomingMailServerPortNumber, 2995);
  });
});

describe('XML text', () => {
  test('every value escaped: markup characters and characters XML cannot hold', () => {
    assert.equal(xmlEscape(`a&b<c>d"e'f`), 'a&amp;b&lt;c&gt;d&quot;e&apos;f');
    assert.equal(xmlEscape('a\u0000b\u001bc\ufffed\te'), 'abcd\te');
    assert.equal(xmlEscape('ü 😀'), 'ü 😀');
    // A hostile hostname and address still make well-formed documents that say the same text.
    const host = `mail.example.test"><x a='&`;
    const services = clientServices(config(host.replace(/["\\]/g, '\\$&'), STANDARD));
    const tb = thunderbirdServers(thunderbirdConfig('d<&>.test', services));
    assert.equal(tb.incoming[0]![1], host.toLowerCase());
    const addr = `a&<b>@d.test`;
    assert.equal(autodiscoverProtocols(autodiscoverResponse(addr, services))[0]![4], addr);
    const p = parsePlist(appleMobileconfig(host, addr, services)!);
    assert.equal((p.PayloadContent as Array<Record<string, unknown>>)[0]!.EmailAddress, addr);
  });

  const unescapes: Array<[string, string | null]> = [
    ['plain', 'plain'],
    ['a&amp;b&lt;&gt;&quot;&apos;', `a&b<>"'`],
    ['&#64;&#x40;', '@@'],
    ['&#x1F600;', '😀'],
    ['&#X40;', null], // the hex marker is a lower-case x (XML 1.0 §4.1)
    ['&unknown;', null],
    ['&amp', null],
    ['&#xD800;', null],
    ['&#1114112;', null],
  ];
  test('references resolved, malformed ones refused', () => {
    for (const [input, want] of unescapes) assert.equal(xmlUnescape(input), want, input);
  });

  test('elementText: any prefix, attributes, malformed and missing', () => {
    assert.equal(elementText('<a:EMailAddress x="1">u@d</a:EMailAddress>', 'EMailAddress'), 'u@d');
    assert.equal(elementText('<EMailAddress>u&amp;v@d</EMailAddress >', 'EMailAddress'), 'u&v@d');
    assert.equal(elementText('<EMailAddressX>u@d</EMailAddressX>', 'EMailAddress'), undefined);
    assert.equal(elementText('<EMailAddress><b/>u@d</EMailAddress>', 'EMailAddress'), null);
    assert.equal(elementText('<EMailAddress>u@d', 'EMailAddress'), null);
    assert.equal(elementText('<Other/>', 'EMailAddress'), undefined);
  });
});

describe('Autodiscover requests', () => {
  const request = (inner: string, prefix = '') =>
    `<?xml version="1.0" encoding="utf-8"?>
<${prefix}Autodiscover xmlns${prefix ? `:${prefix.slice(0, -1)}` : ''}="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <${prefix}Request>${inner}</${prefix}Request>
</${prefix}Autodiscover>`;
  const outlook = `<AcceptableResponseSchema>${OUTLOOK_RESPONSE_NS}</AcceptableResponseSchema>`;

  const cases: Array<[string, string, ReturnType<typeof parseAutodiscoverRequest>]> = [
    [
      "Outlook's request",
      request(`<EMailAddress>You@Example.test</EMailAddress>${outlook}`),
      { ok: true, emailAddress: 'You@Example.test', responseSchema: OUTLOOK_RESPONSE_NS },
    ],
    [
      'a namespace prefix, no schema',
      request('<a:EMailAddress> you@example.test </a:EMailAddress>', 'a:'),
      { ok: true, emailAddress: 'you@example.test', responseSchema: undefined },
    ],
    ['no address', request(outlook), { ok: false, reason: 'no EMailAddress' }],
    [
      'markup in the address',
      request('<EMailAddress><x/></EMailAddress>'),
      { ok: false, reason: 'malformed EMailAddress' },
    ],
    [
      'a DOCTYPE (entity expansion)',
      `<!DOCTYPE a [<!ENTITY e "x">]>${request('<EMailAddress>&e;@d</EMailAddress>')}`,
      { ok: false, reason: 'DOCTYPE not allowed' },
    ],
    [
      'not Autodiscover',
      '<EMailAddress>a@b</EMailAddress>',
      { ok: false, reason: 'not an Autodiscover request' },
    ],
  ];
  for (const [name, body, want] of cases) {
    test(name, () => assert.deepEqual(parseAutodiscoverRequest(body), want));
  }

  test('error responses: 600 and 601 in the POX error shape', () => {
    const e = parseXml(autodiscoverError(601, 'mail.example.test', 'urn:x'));
    const [r] = children(e, 'Response');
    assert.equal(r!.ns, 'urn:x');
    const [err] = children(r!, 'Error');
    assert.match(err!.attrs.Time!, /^\d\d:\d\d:\d\d\.\d{3}$/);
    assert.match(err!.attrs.Id!, /^\d+$/);
    assert.equal(childText(err!, 'ErrorCode'), '601');
    assert.equal(
      childText(parseXml(autodiscoverError(600, 'h')).children[0]!.children[0]!, 'ErrorCode'),
      '600',
    );
  });
});

test('domainOfHost: the Host field, without port and autoconfig./autodiscover. labels', () => {
  const cases: Array<[string | undefined, string | null]> = [
    ['example.test', 'example.test'],
    ['Example.TEST:8080', 'example.test'],
    ['autoconfig.example.test', 'example.test'],
    ['autodiscover.example.test:443', 'example.test'],
    ['[::1]:8080', null],
    ['', null],
    [undefined, null],
    ['bad host', null],
  ];
  for (const [host, want] of cases) assert.equal(domainOfHost(host), want, String(host));
});

describe('the routes on the HTTP listener', () => {
  let http: HttpListener;
  let port: number;
  const cfg = config('mail.example.test', STANDARD);
  const store = {
    kind: 'sqlite',
    listDomains: async () => ['example.test'],
    isLocalDomain: async (d: string) => d === 'example.test',
  } as unknown as MailStore;

  before(async () => {
    http = await startHttp({
      host: '127.0.0.1',
      port: 0,
      store,
      log: silentLogger(),
      routes: autoconfigRoutes({ cfg, store }),
    });
    port = http.address().port;
  });
  after(() => http.close(1000));

  interface Answer {
    status: number;
    headers: Record<string, string>;
    body: string;
  }
  /** One raw HTTP/1.1 exchange; the connection is closed after it. */
  function exchange(method: string, target: string, host: string, body = ''): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.write(
          `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n` +
            (body || method === 'POST' ? `Content-Length: ${Buffer.byteLength(body)}\r\n` : '') +
            `\r\n${body}`,
        );
      });
      let data = '';
      s.setEncoding('utf8');
      s.on('data', (d) => {
        data += d;
      });
      s.on('error', reject);
      s.on('close', () => {
        const end = data.indexOf('\r\n\r\n');
        const lines = data.slice(0, end).split('\r\n');
        const m = /^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '');
        if (!m) return reject(new Error(`no status line: ${JSON.stringify(data)}`));
        const headers: Record<string, string> = {};
        for (const l of lines.slice(1)) {
          const i = l.indexOf(':');
          headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
        }
        resolve({ status: Number(m[1]), headers, body: data.slice(end + 4) });
      });
    });
  }

  test("Thunderbird's two lookup URLs for you@example.test", async () => {
    // https://autoconfig.example.test/mail/config-v1.1.xml?emailaddress=you%40example.test
    const a = await exchange(
      'GET',
      '/mail/config-v1.1.xml?emailaddress=you%40example.test',
      'autoconfig.example.test',
    );
    assert.equal(a.status, 200);
    assert.equal(a.headers['content-type'], 'text/xml; charset=utf-8');
    const servers = thunderbirdServers(a.body);
    assert.deepEqual(servers.incoming[0], ['imap', 'mail.example.test', 993, 'SSL']);
    assert.deepEqual(servers.outgoing[0], ['smtp', 'mail.example.test', 465, 'SSL']);
    assert.equal(childText(parseXml(a.body).children[0]!, 'domain'), 'example.test');
    // https://example.test/.well-known/autoconfig/mail/config-v1.1.xml (no address: the Host).
    const b = await exchange('GET', '/.well-known/autoconfig/mail/config-v1.1.xml', 'example.test');
    assert.equal(b.status, 200);
    assert.equal(b.body, a.body);
    // The address wins over the Host; HEAD is GET without the body.
    const c = await exchange(
      'GET',
      '/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=x%40example.test',
      'other.test',
    );
    assert.equal(c.body, a.body);
    const h = await exchange('HEAD', '/mail/config-v1.1.xml', 'autoconfig.example.test');
    assert.equal(h.status, 200);
    assert.equal(h.headers['content-length'], String(Buffer.byteLength(a.body)));
    assert.equal(h.body, '');
  });

  test('only local domains; the same answer for any user of one (no enumeration)', async () => {
    const url = (addr: string) => `/mail/config-v1.1.xml?emailaddress=${encodeURIComponent(addr)}`;
    const unknownPath = await exchange('GET', '/no-such-path', 'example.test');
    for (const [target, host] of [
      [url('you@other.test'), 'autoconfig.other.test'],
      ['/.well-known/autoconfig/mail/config-v1.1.xml', 'other.test'],
      ['/.well-known/autoconfig/mail/config-v1.1.xml', '127.0.0.1:8080'],
      ['/apple/mobileconfig?emailaddress=you%40other.test', 'example.test'],
    ] as const) {
      const r = await exchange('GET', target, host);
      assert.equal(r.status, 404, `${host} ${target}`);
      assert.equal(r.body, unknownPath.body);
    }
    const post = await exchange(
      'POST',
      '/autodiscover/autodiscover.xml',
      'autodiscover.other.test',
      '<Autodiscover><Request><EMailAddress>a@other.test</EMailAddress></Request></Autodiscover>',
    );
    assert.equal(post.status, 404);
    assert.equal(post.body, unknownPath.body);
    const [x, y] = [
      await exchange('GET', url('exists@example.test'), 'autoconfig.example.test'),
      await exchange('GET', url('nobody-at-all@example.test'), 'autoconfig.example.test'),
    ];
    assert.equal(x.body, y.body);
  });

  test('bad addresses are 400, other methods 405 with Allow', async () => {
    for (const target of [
      '/mail/config-v1.1.xml?emailaddress=',
      '/mail/config-v1.1.xml?emailaddress=no-at-sign',
      `/mail/config-v1.1.xml?emailaddress=${'a'.repeat(65)}%40example.test`,
      '/apple/mobileconfig',
      '/apple/mobileconfig?emailaddress=a%20b%40example.test',
    ]) {
      assert.equal((await exchange('GET', target, 'example.test')).status, 400, target);
    }
    const p = await exchange('POST', '/mail/config-v1.1.xml', 'example.test', 'x');
    assert.equal(p.status, 405);
    assert.equal(p.headers.allow, 'GET, HEAD');
    const d = await exchange('PUT', '/autodiscover/autodiscover.xml', 'example.test', 'x');
    assert.equal(d.status, 405);
    assert.equal(d.headers.allow, 'POST, GET, HEAD');
  });

  test('Autodiscover: POST as Outlook sends it, GET with the address, both spellings', async () => {
    const body = `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>You@Example.test</EMailAddress>
    <AcceptableResponseSchema>${OUTLOOK_RESPONSE_NS}</AcceptableResponseSchema>
  </Request>
</Autodiscover>`;
    for (const path of ['/autodiscover/autodiscover.xml', '/Autodiscover/Autodiscover.xml']) {
      const r = await exchange('POST', path, 'autodiscover.example.test', body);
      assert.equal(r.status, 200, path);
      assert.equal(r.headers['content-type'], 'text/xml; charset=utf-8');
      assert.deepEqual(autodiscoverProtocols(r.body), [
        ['IMAP', 'mail.example.test', 993, 'SSL', 'you@example.test'],
        ['POP3', 'mail.example.test', 995, 'SSL', 'you@example.test'],
        ['SMTP', 'mail.example.test', 465, 'SSL', 'you@example.test'],
        ['IMAP', 'mail.example.test', 143, 'TLS', 'you@example.test'],
        ['POP3', 'mail.example.test', 110, 'TLS', 'you@example.test'],
        ['SMTP', 'mail.example.test', 587, 'TLS', 'you@example.test'],
      ]);
    }
    const g = await exchange(
      'GET',
      '/autodiscover/autodiscover.xml?emailaddress=you%40example.test',
      'example.test',
    );
    assert.equal(g.status, 200);
    assert.equal(autodiscoverProtocols(g.body)[0]![4], 'you@example.test');
  });

  test('Autodiscover refuses: malformed XML 400 (600), ActiveSync schema 601, big bodies 413', async () => {
    const path = '/autodiscover/autodiscover.xml';
    for (const body of [
      '',
      'not xml',
      '<Autodiscover><Request><EMailAddress>not-an-address</EMailAddress></Request></Autodiscover>',
      '<!DOCTYPE x [<!ENTITY a "b">]><Autodiscover><Request><EMailAddress>a@example.test</EMailAddress></Request></Autodiscover>',
    ]) {
      const r = await exchange('POST', path, 'example.test', body);
      assert.equal(r.status, 400, body);
      const err = parseXml(r.body).children[0]!.children[0]!;
      assert.equal(childText(err, 'ErrorCode'), '600');
    }
    const invalidUtf8 = await new Promise<number>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        const b = Buffer.concat([
          Buffer.from('<Autodiscover><Request><EMailAddress>a'),
          Buffer.from([0xff, 0xfe]),
          Buffer.from('@example.test</EMailAddress></Request></Autodiscover>'),
        ]);
        s.write(
          `POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${b.length}\r\n\r\n`,
        );
        s.write(b);
      });
      let data = '';
      s.on('data', (d) => {
        data += d;
      });
      s.on('error', reject);
      s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1])));
    });
    assert.equal(invalidUtf8, 400);
    const mobile =
      'http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006';
    const r = await exchange(
      'POST',
      path,
      'example.test',
      `<Autodiscover><Request><EMailAddress>a@example.test</EMailAddress><AcceptableResponseSchema>${mobile}</AcceptableResponseSchema></Request></Autodiscover>`,
    );
    assert.equal(r.status, 200);
    const resp = parseXml(r.body).children[0]!;
    assert.equal(resp.ns, mobile);
    assert.equal(childText(resp.children[0]!, 'ErrorCode'), '601');
    // Declared too large: refused before reading; sent too large without a length: the same.
    const big = 'x'.repeat(MAX_REQUEST_BODY + 1);
    assert.equal((await exchange('POST', path, 'example.test', big)).status, 413);
    const chunked = await new Promise<string>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`);
        const piece = 'y'.repeat(4096);
        for (let i = 0; i < 8; i++) s.write(`${piece.length.toString(16)}\r\n${piece}\r\n`);
      });
      let data = '';
      s.on('data', (d) => {
        data += d;
        if (data.includes('\r\n\r\n')) s.destroy();
        resolve(data);
      });
      s.on('error', reject);
    });
    assert.match(chunked, /^HTTP\/1\.1 413 /);
    // The listener lives on.
    assert.equal(
      (await exchange('GET', '/.well-known/autoconfig/mail/config-v1.1.xml', 'example.test'))
        .status,
      200,
    );
  });

  test('the Apple profile: content type, attachment, a plist for the address', async () => {
    const r = await exchange(
      'GET',
      '/apple/mobileconfig?emailaddress=You%40example.test',
      'example.test',
    );
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/x-apple-aspen-config');
    assert.equal(
      r.headers['content-disposition'],
      'attachment; filename="example.test.mobileconfig"',
    );
    const p = parsePlist(r.body);
    const [a] = p.PayloadContent as Array<Record<string, unknown>>;
    assert.equal(a!.EmailAddress, 'you@example.test');
    assert.equal(a!.IncomingMailServerPortNumber, 993);
  });
});
