// The web admin's files on the HTTP listener: one page, one script, one style sheet, served
// from /admin/. The page is static; everything it shows comes from the admin API (/api/v1)
// with the session the page keeps in sessionStorage, so nothing here reads the store or knows
// who is signed in.
//
// Every answer carries a strict Content-Security-Policy (no inline script or style, nothing
// from another origin, no framing) and is revalidated on each load (ETag, RFC 9110 §8.8.3;
// 304 for a matching If-None-Match, RFC 9110 §13.1.2) so an upgrade is seen at once.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import type { HttpRoute } from '../route.js';
import { requestPath } from '../server.js';

/** Where the page lives; /admin (without the slash) redirects here. */
export const ADMIN_PREFIX = '/admin/';

/** The files, by request path: the file under public/ and its media type. */
const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/admin/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/admin/admin.js': { file: 'admin.js', type: 'text/javascript; charset=utf-8' },
  '/admin/admin.css': { file: 'admin.css', type: 'text/css; charset=utf-8' },
};

/**
 * The policy of every answer: scripts, styles and API calls from this origin only, no inline
 * script or style attribute (the page has none), no plugins, no framing, forms post nowhere
 * else (the page's forms never post at all: the script sends them to the API).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers every answer of the web admin carries. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

interface Asset {
  type: string;
  body: Buffer;
  etag: string;
}

/**
 * The directory of the files: public/ beside this module when it runs from src/ (tsx), the
 * same directory in the package's src/ when it runs compiled from dist/src/ (tsc copies no
 * assets; package.json's `files` ships src/http/web/public).
 */
const CANDIDATE_DIRS = ['./public/', '../../../../src/http/web/public/'];

function loadAssets(): Map<string, Asset> {
  for (const dir of CANDIDATE_DIRS) {
    const assets = new Map<string, Asset>();
    try {
      for (const [path, f] of Object.entries(FILES)) {
        const body = readFileSync(new URL(dir + f.file, import.meta.url));
        const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
        assets.set(path, { type: f.type, body, etag });
      }
      return assets;
    } catch {
      // Not this directory.
    }
  }
  throw new Error('web admin files not found (src/http/web/public)');
}

/** Whether an If-None-Match field value names this entity tag (weak comparison, §8.8.3.2). */
export function etagMatches(field: string | undefined, etag: string): boolean {
  if (field === undefined) return false;
  if (field.trim() === '*') return true;
  return field
    .split(',')
    .map((t) => t.trim().replace(/^W\//, ''))
    .includes(etag);
}

/** The web admin's routes: the three files, and /admin redirected to /admin/. */
export function webAdminRoutes(): HttpRoute[] {
  // Read once, at the first request: three small files kept for the life of the process.
  let assets: Map<string, Asset> | undefined;
  const files: HttpRoute = {
    paths: Object.keys(FILES),
    methods: ['GET', 'HEAD'],
    async handle(req, res) {
      assets ??= loadAssets();
      // The listener matched the path to one of ours, so it is there.
      const a = assets.get(requestPath(req.url ?? '') ?? '') ?? assets.get(ADMIN_PREFIX)!;
      serve(req, res, a);
    },
  };
  const redirect: HttpRoute = {
    paths: ['/admin'],
    methods: ['GET', 'HEAD'],
    async handle(_req, res) {
      res.writeHead(308, { ...SECURITY_HEADERS, location: ADMIN_PREFIX, 'content-length': 0 });
      res.end();
    },
  };
  return [files, redirect];
}

function serve(req: http.IncomingMessage, res: http.ServerResponse, a: Asset): void {
  const headers = {
    ...SECURITY_HEADERS,
    'content-type': a.type,
    // Stored, but checked with the server before each use.
    'cache-control': 'no-cache',
    etag: a.etag,
  };
  if (etagMatches(req.headers['if-none-match'], a.etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': a.body.length });
  // RFC 9110 §9.3.2: HEAD gets the fields of GET without the content (Node leaves it out).
  res.end(a.body);
}
