// The autoconfiguration routes of the HTTP listener. Each answers only for local domains (404
// otherwise, the same 404 as an unknown path), and never looks an account up: an address of a
// local domain gets the same answer whether or not it exists, so nothing here enumerates users.
import type http from 'node:http';
import { domainToASCII } from 'node:url';
import type { Config } from '../../config/schema.js';
import { normalizeAddress, normalizeDomain } from '../../store/names.js';
import type { MailStore } from '../../store/types.js';
import type { HttpRoute } from '../route.js';
import {
  autodiscoverError,
  autodiscoverResponse,
  OUTLOOK_RESPONSE_NS,
  parseAutodiscoverRequest,
} from './autodiscover.js';
import { appleMobileconfig, MOBILECONFIG_TYPE } from './mobileconfig.js';
import { clientServices } from './services.js';
import { thunderbirdConfig } from './thunderbird.js';

export interface AutoconfigDeps {
  cfg: Config;
  store: Pick<MailStore, 'isLocalDomain'>;
}

/** An Autodiscover request is a few hundred bytes; a body past this gets 413. */
export const MAX_REQUEST_BODY = 16 * 1024;
/** RFC 5321 §4.5.3.1: a path is at most 256 octets; an address longer than this is refused. */
const MAX_ADDRESS = 320;

export const THUNDERBIRD_PATHS = [
  '/.well-known/autoconfig/mail/config-v1.1.xml',
  '/mail/config-v1.1.xml',
];
export const AUTODISCOVER_PATHS = [
  '/autodiscover/autodiscover.xml',
  '/Autodiscover/Autodiscover.xml',
];
export const MOBILECONFIG_PATHS = ['/apple/mobileconfig'];

const XML_TYPE = 'text/xml; charset=utf-8';

type Reply = { status: number; type: string; body: string; headers?: Record<string, string> };

const notFound = (): Reply => ({
  status: 404,
  type: 'application/json',
  body: JSON.stringify({ error: 'not found' }),
});
const badRequest = (error: string): Reply => ({
  status: 400,
  type: 'application/json',
  body: JSON.stringify({ error }),
});

function reply(res: http.ServerResponse, r: Reply): void {
  res.writeHead(r.status, {
    'content-type': r.type,
    'content-length': Buffer.byteLength(r.body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...r.headers,
  });
  res.end(r.body);
}

/** The query's value for one of `names` (first present wins); undefined when none is there. */
function queryParam(req: http.IncomingMessage, names: readonly string[]): string | undefined {
  const target = req.url ?? '';
  const q = target.indexOf('?');
  if (q < 0) return undefined;
  const params = new URLSearchParams(target.slice(q + 1));
  for (const n of names) {
    const v = params.get(n);
    if (v !== null) return v;
  }
  return undefined;
}

/** The address, normalized, or null when it is not one. */
function address(raw: string): string | null {
  if (raw.length === 0 || raw.length > MAX_ADDRESS) return null;
  try {
    return normalizeAddress(raw);
  } catch {
    return null;
  }
}

/**
 * The mail domain a request without an address is about: the Host field (RFC 9110 §7.2) without
 * its port, and without the `autoconfig.` or `autodiscover.` label clients put in front
 * (https://autoconfig.DOMAIN/mail/config-v1.1.xml, https://DOMAIN/.well-known/...).
 */
export function domainOfHost(host: string | undefined): string | null {
  if (!host || host.startsWith('[')) return null; // none, or an IPv6 literal: not a mail domain
  const name = host.replace(/:\d*$/, '').toLowerCase();
  const bare = name.replace(/^(autoconfig|autodiscover)\./, '');
  try {
    return normalizeDomain(bare);
  } catch {
    return null;
  }
}

const domainOf = (addr: string) => addr.slice(addr.lastIndexOf('@') + 1);

/**
 * Reads a request body up to `limit` bytes: the body, 'too-large' (the rest is left unread and
 * the connection closed after the answer), or 'aborted' when the client went away.
 */
function readBody(
  req: http.IncomingMessage,
  limit: number,
): Promise<Buffer | 'too-large' | 'aborted'> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.resolve('too-large');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (v: Buffer | 'too-large' | 'aborted') => {
      req.off('data', onData);
      resolve(v);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.pause();
        done('too-large');
      } else chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => done(Buffer.concat(chunks)));
    req.once('close', () => done('aborted'));
    req.once('error', () => done('aborted'));
  });
}

export function autoconfigRoutes(deps: AutoconfigDeps): HttpRoute[] {
  const { cfg, store } = deps;
  const hostname = cfg.hostname.toLowerCase().replace(/\.$/, '');
  const isLocal = (domain: string) => store.isLocalDomain(domain);

  const thunderbird = async (req: http.IncomingMessage): Promise<Reply> => {
    // Thunderbird sends ?emailaddress= to autoconfig.DOMAIN, and only the Host to DOMAIN's
    // .well-known URL; either names the domain.
    const raw = queryParam(req, ['emailaddress']);
    let domain: string | null;
    if (raw !== undefined) {
      const a = address(raw);
      if (!a) return badRequest('emailaddress is not an address');
      domain = domainOf(a);
    } else domain = domainOfHost(req.headers.host);
    if (!domain || !(await isLocal(domain))) return notFound();
    const services = clientServices(cfg);
    if (services.length === 0) return notFound();
    return { status: 200, type: XML_TYPE, body: thunderbirdConfig(domain, services) };
  };

  const autodiscover = async (req: http.IncomingMessage): Promise<Reply> => {
    let raw: string | undefined;
    let schema: string | undefined;
    if (req.method === 'POST') {
      const body = await readBody(req, MAX_REQUEST_BODY);
      if (body === 'aborted') return { status: 400, type: XML_TYPE, body: '' };
      if (body === 'too-large') {
        return {
          status: 413,
          type: 'application/json',
          body: JSON.stringify({ error: `request body over ${MAX_REQUEST_BODY} bytes` }),
          headers: { connection: 'close' },
        };
      }
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(body);
      } catch {
        return { status: 400, type: XML_TYPE, body: autodiscoverError(600, hostname) };
      }
      const parsed = parseAutodiscoverRequest(text);
      if (!parsed.ok)
        return { status: 400, type: XML_TYPE, body: autodiscoverError(600, hostname) };
      raw = parsed.emailAddress;
      schema = parsed.responseSchema;
    } else raw = queryParam(req, ['emailaddress', 'email']);
    const a = raw === undefined ? null : address(raw);
    if (!a) return { status: 400, type: XML_TYPE, body: autodiscoverError(600, hostname) };
    if (!(await isLocal(domainOf(a)))) return notFound();
    if (schema !== undefined && schema !== OUTLOOK_RESPONSE_NS) {
      // Only the Outlook (POX) schema; e.g. ActiveSync's mobilesync gets 601. The schema asked
      // for is echoed only when it looks like one (it names the Response's namespace).
      const echo = /^https?:\/\/[\x21-\x7e]{1,200}$/.test(schema) ? schema : undefined;
      return { status: 200, type: XML_TYPE, body: autodiscoverError(601, hostname, echo) };
    }
    const services = clientServices(cfg);
    if (services.length === 0) return notFound();
    return { status: 200, type: XML_TYPE, body: autodiscoverResponse(a, services) };
  };

  const mobileconfig = async (req: http.IncomingMessage): Promise<Reply> => {
    const raw = queryParam(req, ['emailaddress', 'email']);
    if (raw === undefined) return badRequest('emailaddress is required');
    const a = address(raw);
    if (!a) return badRequest('emailaddress is not an address');
    const domain = domainOf(a);
    if (!(await isLocal(domain))) return notFound();
    const body = appleMobileconfig(hostname, a, clientServices(cfg));
    if (!body) return notFound();
    const file = `${domainToASCII(domain) || 'mail'}.mobileconfig`;
    return {
      status: 200,
      type: MOBILECONFIG_TYPE,
      body,
      headers: { 'content-disposition': `attachment; filename="${file}"` },
    };
  };

  const route = (
    paths: readonly string[],
    methods: readonly string[],
    answer: (req: http.IncomingMessage) => Promise<Reply>,
  ): HttpRoute => ({
    paths,
    methods,
    handle: async (req, res) => reply(res, await answer(req)),
  });
  return [
    route(THUNDERBIRD_PATHS, ['GET', 'HEAD'], thunderbird),
    route(AUTODISCOVER_PATHS, ['POST', 'GET', 'HEAD'], autodiscover),
    route(MOBILECONFIG_PATHS, ['GET', 'HEAD'], mobileconfig),
  ];
}
