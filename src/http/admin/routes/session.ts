// POST/DELETE /session and GET /whoami: signing in with the admin token or an admin account.
import { z } from 'zod';
import { parse } from '../../../admin/schemas.js';
import type { ApiRoute } from '../router.js';
import * as v from '../views.js';
import { noContent, ok } from './reply.js';

export const sessionRequest = z.union([
  z.strictObject({ token: z.string().min(1).max(1024) }),
  z.strictObject({
    username: z.string().min(1).max(320),
    password: z.string().min(1).max(1024).meta({ writeOnly: true }),
  }),
]);

export const sessionRoutes: ApiRoute[] = [
  {
    method: 'POST',
    path: '/session',
    summary: 'Sign in with the admin token or an admin account; the session is a bearer token',
    tag: 'session',
    public: true,
    body: sessionRequest,
    responses: {
      200: { description: 'Signed in, for 12 hours', schema: v.sessionBody },
      429: { description: 'Too many failed sign-ins from here, or for this account: wait' },
    },
    async handle({ body, ip, auth }) {
      const r = await auth.login(parse(sessionRequest, body), ip);
      if (r.ok) return ok({ session: r.session, expires: r.expires.toISOString() });
      if (r.reason === 'throttled') {
        return {
          status: 429,
          headers: { 'retry-after': String(Math.max(1, Math.ceil(r.retryAfterMs / 1000))) },
          body: { error: 'too_many_attempts', message: 'too many failed sign-ins: wait' },
        };
      }
      return {
        status: 401,
        headers: { 'www-authenticate': 'Bearer realm="letterbox"' },
        body: { error: 'unauthorized' },
      };
    },
  },
  {
    method: 'DELETE',
    path: '/session',
    summary: 'End the session this request carries',
    tag: 'session',
    responses: { 204: { description: 'Ended' } },
    async handle({ req, auth }) {
      auth.logout(req.headers.authorization);
      return noContent();
    },
  },
  {
    method: 'GET',
    path: '/whoami',
    summary: 'Who the bearer token is',
    tag: 'session',
    responses: { 200: { description: 'The signed-in principal', schema: v.whoami } },
    async handle({ principal }) {
      return ok(principal);
    },
  },
];
