// The JSON admin API on the HTTP listener: everything below /api/v1/ (routes/, the contract in
// docs/admin-api.md). In order: TLS or a plaintext network (a bearer token is a password),
// the route (404, 405 with Allow), the bearer token (401, no detail), the body (413, 415,
// 400), the operation; its refusals map to 400 / 404 / 409 with `{error, message, issues}`.
// One log line per request: method, route, status, who; never a token, a body or a password.
import type http from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AdminContext } from '../../admin/context.js';
import { AdminError } from '../../admin/errors.js';
import type { PlaintextPolicy } from '../../auth/plaintext.js';
import type { Logger } from '../../log.js';
import { isStoreError } from '../../store/errors.js';
import type { HttpRoute } from '../route.js';
import { type AdminAuth, bearerOf } from './auth.js';
import { readJsonBody } from './body.js';
import { openApiDocument } from './openapi.js';
import { API_PREFIX, type ApiReply, type ApiRoute, matchRoute } from './router.js';
import { accountRoutes } from './routes/accounts.js';
import { aliasRoutes } from './routes/aliases.js';
import { domainRoutes } from './routes/domains.js';
import { queueRoutes } from './routes/queue.js';
import { sessionRoutes } from './routes/session.js';

const STATUS_OF = { invalid: 400, not_found: 404, conflict: 409 } as const;

export interface AdminApiOptions {
  ctx: AdminContext;
  auth: AdminAuth;
  /** Where a request without TLS is served (`[auth] plaintext_networks`). */
  plaintext: PlaintextPolicy;
  log: Logger;
}

/** Every route of the API, the document's own included. */
export function adminRoutes(): ApiRoute[] {
  const routes: ApiRoute[] = [
    ...sessionRoutes,
    ...domainRoutes,
    ...accountRoutes,
    ...aliasRoutes,
    ...queueRoutes,
  ];
  let document: Record<string, unknown> | undefined;
  routes.push({
    method: 'GET',
    path: '/openapi.json',
    summary: 'This document',
    tag: 'meta',
    public: true,
    responses: { 200: { description: 'The OpenAPI 3.1 document' } },
    async handle() {
      document ??= openApiDocument(routes);
      return { status: 200, body: document };
    },
  });
  return routes;
}

function send(res: http.ServerResponse, reply: ApiReply): void {
  const headers: Record<string, string | number> = {
    ...reply.headers,
    // Answers name accounts and hold new app passwords: never kept by a cache (RFC 9111 §5.2.2.5).
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  };
  if (reply.status === 204 || reply.body === undefined) {
    res.writeHead(reply.status, headers);
    res.end();
    return;
  }
  const data = JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(data),
  });
  res.end(data);
}

const error = (status: number, code: string, message?: string): ApiReply => ({
  status,
  body: message === undefined ? { error: code } : { error: code, message },
});

export function adminApi(opts: AdminApiOptions): HttpRoute {
  const routes = adminRoutes();
  const log = opts.log.child({ component: 'admin-api' });

  async function answer(
    req: http.IncomingMessage,
    path: string,
  ): Promise<{ reply: ApiReply; route?: string; who?: string }> {
    const ip = req.socket.remoteAddress ?? '';
    const secure = (req.socket as TLSSocket).encrypted === true;
    const sub = path.slice(API_PREFIX.length);
    const m = matchRoute(routes, req.method ?? '', sub);
    if (m.kind === 'bad-path') return { reply: error(400, 'bad_request', 'malformed path') };
    if (m.kind === 'none') return { reply: error(404, 'not_found', 'no such route') };
    if (m.kind === 'method') {
      const reply = error(405, 'method_not_allowed');
      reply.headers = { allow: m.allow.join(', ') };
      return { reply };
    }
    const route = m.route;
    // RFC 8314 §3 and RFC 6750 §5.3: a bearer token (or a password) only over TLS, but from
    // the networks allowed to send passwords in the clear (the server's own host by default).
    if (!secure && !opts.plaintext.allows(ip) && route.path !== '/openapi.json') {
      return {
        reply: error(403, 'tls_required', 'the admin API answers over TLS only from this address'),
        route: route.path,
      };
    }
    const principal = route.public ? null : await opts.auth.verify(req.headers.authorization);
    if (!route.public && principal === null) {
      // RFC 6750 §3: the challenge always; §3.1: an error code only when a token was sent.
      const sent = bearerOf(req.headers.authorization) !== null;
      return {
        reply: {
          status: 401,
          headers: {
            'www-authenticate': sent
              ? 'Bearer realm="letterbox", error="invalid_token"'
              : 'Bearer realm="letterbox"',
          },
          body: { error: 'unauthorized' },
        },
        route: route.path,
      };
    }
    const who =
      principal === null ? undefined : principal.kind === 'token' ? 'token' : principal.username;
    const body = await readJsonBody(req);
    if (!body.ok) {
      const reply = error(body.status, body.error, body.message);
      // The rest of a refused body is not read: the connection cannot carry another request.
      if (body.status === 413) reply.headers = { connection: 'close' };
      return { reply, route: route.path, who };
    }
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    try {
      const reply = await route.handle({
        params: m.params,
        query,
        body: body.value,
        principal,
        ip,
        req,
        ctx: opts.ctx,
        auth: opts.auth,
      });
      return { reply, route: route.path, who };
    } catch (err) {
      // RFC 9110 §15.6.4: the store cannot be reached now (a database restarting), not a bug.
      if (isStoreError(err, 'UNAVAILABLE')) {
        log.warn({ err, route: route.path }, 'admin api: store unavailable');
        const reply = error(503, 'unavailable', 'the store cannot be reached now: try again');
        reply.headers = { 'retry-after': '5' };
        return { reply, route: route.path, who };
      }
      if (!(err instanceof AdminError)) throw err;
      const reply: ApiReply = {
        status: STATUS_OF[err.code],
        body: {
          error: err.code,
          message: err.message,
          ...(err.issues.length > 0 ? { issues: err.issues } : {}),
        },
      };
      return { reply, route: route.path, who };
    }
  }

  return {
    paths: [],
    methods: [],
    prefix: `${API_PREFIX}/`,
    async handle(req, res) {
      const started = Date.now();
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const { reply, route, who } = await answer(req, path);
      send(res, reply);
      log.info(
        {
          method: req.method,
          route: route ?? null,
          status: reply.status,
          admin: who ?? null,
          ip: req.socket.remoteAddress,
          ms: Date.now() - started,
        },
        'admin api request',
      );
    },
  };
}
