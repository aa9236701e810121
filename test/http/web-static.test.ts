// The web admin's files on the HTTP listener: each path with its status, media type and the
// security and caching fields; revalidation (ETag, 304); HEAD; methods refused; the page refers
// only to files that are served and carries no inline script or style; the package ships them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { type HttpListener, startHttp } from '../../src/http/server.js';
import { CONTENT_SECURITY_POLICY, etagMatches, webAdminRoutes } from '../../src/http/web/static.js';
import { silentLogger } from '../../src/log.js';
import type { MailStore } from '../../src/store/types.js';

let http: HttpListener;
let base: string;

before(async () => {
  http = await startHttp({
    host: '127.0.0.1',
    port: 0,
    store: {} as MailStore,
    log: silentLogger(),
    routes: webAdminRoutes(),
  });
  base = `http://127.0.0.1:${http.address().port}`;
});
after(() => http.close(1000));

const SECURITY = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

describe('/admin/ files', () => {
  const table: Array<[path: string, type: string, marker: RegExp]> = [
    ['/admin/', 'text/html; charset=utf-8', /<title>Letterbox admin<\/title>/],
    ['/admin/admin.js', 'text/javascript; charset=utf-8', /\/api\/v1/],
    ['/admin/admin.css', 'text/css; charset=utf-8', /\.error/],
    ['/admin/?next=1', 'text/html; charset=utf-8', /<form id="signin-token"/],
  ];
  for (const [path, type, marker] of table) {
    test(`GET ${path}: 200 ${type}, strict headers, revalidated`, async () => {
      const r = await fetch(base + path);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), type);
      for (const [k, v] of Object.entries(SECURITY)) assert.equal(r.headers.get(k), v, k);
      assert.equal(r.headers.get('cache-control'), 'no-cache');
      const etag = r.headers.get('etag');
      assert.match(etag ?? '', /^"[A-Za-z0-9_-]{22}"$/);
      const body = await r.text();
      assert.match(body, marker);
      assert.equal(Number(r.headers.get('content-length')), Buffer.byteLength(body));

      // RFC 9110 §13.1.2: a matching If-None-Match gets 304, with the same validator.
      const again = await fetch(base + path, { headers: { 'if-none-match': `W/${etag}, "x"` } });
      assert.equal(again.status, 304);
      assert.equal(again.headers.get('etag'), etag);
      assert.equal(again.headers.get('cache-control'), 'no-cache');
      assert.ok(again.headers.get('date'));
      assert.equal(again.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY);
      assert.equal(await again.text(), '');
      const other = await fetch(base + path, { headers: { 'if-none-match': '"other"' } });
      assert.equal(other.status, 200);
    });
  }

  test('HEAD has the fields of GET and no content', async () => {
    const get = await fetch(`${base}/admin/admin.js`);
    const head = await fetch(`${base}/admin/admin.js`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), get.headers.get('content-length'));
    assert.equal(head.headers.get('etag'), get.headers.get('etag'));
    assert.equal(await head.text(), '');
  });

  test('/admin redirects to /admin/', async () => {
    const r = await fetch(`${base}/admin`, { redirect: 'manual' });
    assert.equal(r.status, 308);
    assert.equal(r.headers.get('location'), '/admin/');
    assert.equal(r.headers.get('x-frame-options'), 'DENY');
  });

  const refused: Array<[method: string, path: string, status: number]> = [
    ['POST', '/admin/', 405],
    ['PUT', '/admin/admin.js', 405],
    ['DELETE', '/admin', 405],
    ['GET', '/admin/index.html', 404],
    ['GET', '/admin/../package.json', 404],
    ['GET', '/admin/admin.js/', 404],
    ['GET', '/admin/public/admin.js', 404],
  ];
  for (const [method, path, status] of refused) {
    test(`${method} ${path}: ${status}`, async () => {
      const r = await fetch(base + path, { method });
      assert.equal(r.status, status);
      if (status === 405) assert.equal(r.headers.get('allow'), 'GET, HEAD');
      await r.arrayBuffer();
    });
  }
});

describe('the page', () => {
  const html = readFileSync(
    new URL('../../src/http/web/public/index.html', import.meta.url),
    'utf8',
  );

  test('no inline script, style or event handler (the policy would block them)', () => {
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i);
    assert.doesNotMatch(html, /<style\b/i);
    assert.doesNotMatch(html, /\sstyle=/i);
    assert.doesNotMatch(html, /\son[a-z]+=/i);
  });

  test('every file it loads is served', async () => {
    const refs = [...html.matchAll(/\b(?:src|href)="([^"#]+)"/g)].map((m) => m[1]!);
    assert.deepEqual(refs.sort(), ['admin.css', 'admin.js']);
    for (const ref of refs) {
      const r = await fetch(new URL(ref, `${base}/admin/`));
      assert.equal(r.status, 200, ref);
      await r.arrayBuffer();
    }
  });

  test('every input has a label, every form posts (a GET would put a password in the URL)', () => {
    const ids = [...html.matchAll(/<input\b[^>]*\bid="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(ids.length > 10);
    for (const id of ids) {
      const labelled =
        html.includes(`<label for="${id}">`) ||
        new RegExp(`<label[^>]*><input[^>]*id="${id}"`).test(html);
      assert.ok(labelled, `input #${id} has a label`);
    }
    for (const form of html.matchAll(/<form\b[^>]*>/g)) {
      assert.match(form[0], /method="post"/, form[0]);
    }
  });

  test('the package ships the files (package.json files)', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    assert.ok((pkg.files as string[]).includes('src/http/web/public'));
  });
});

test('etagMatches: weak comparison and *', () => {
  const table: Array<[field: string | undefined, match: boolean]> = [
    [undefined, false],
    ['"abc"', true],
    ['W/"abc"', true],
    ['"x", "abc"', true],
    ['*', true],
    ['"ab"', false],
    ['abc', false],
  ];
  for (const [field, match] of table) assert.equal(etagMatches(field, '"abc"'), match, field);
});
