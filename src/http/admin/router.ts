// The admin API's routes as data: method, path template, what it takes and answers (zod, for
// the OpenAPI document, openapi.ts) and its handler. api.ts matches a request against them.
import type http from 'node:http';
import type { z } from 'zod';
import type { AdminContext } from '../../admin/context.js';
import type { AdminAuth, Principal } from './auth.js';

export const API_PREFIX = '/api/v1';

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface ApiCall {
  params: Record<string, string>;
  query: URLSearchParams;
  /** The parsed JSON body; undefined when there was none. */
  body: unknown;
  /** Null only on public routes. */
  principal: Principal | null;
  ip: string;
  req: http.IncomingMessage;
  ctx: AdminContext;
  auth: AdminAuth;
}

export interface ApiReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ApiRoute {
  method: Method;
  /** Below API_PREFIX, with `{name}` for a path parameter (one segment, URL-decoded). */
  path: string;
  summary: string;
  tag: string;
  /** Served without a bearer token. */
  public?: boolean;
  /** The body it takes (validated by the operation with the same schema). */
  body?: z.ZodType;
  query?: Record<string, { schema: z.ZodType; description: string }>;
  /** Status -> description and the body's schema (none for 204). */
  responses: Record<number, { description: string; schema?: z.ZodType }>;
  handle(call: ApiCall): Promise<ApiReply>;
}

export type Match =
  | { kind: 'route'; route: ApiRoute; params: Record<string, string> }
  | { kind: 'method'; allow: Array<Method | 'HEAD'> }
  | { kind: 'none' }
  | { kind: 'bad-path' };

/** The route for a method and a path below API_PREFIX. */
export function matchRoute(routes: readonly ApiRoute[], method: string, path: string): Match {
  const segments = path.split('/');
  const allow: Array<Method | 'HEAD'> = [];
  for (const r of routes) {
    const template = r.path.split('/');
    if (template.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let matched = true;
    for (let i = 0; i < template.length && matched; i++) {
      const t = template[i]!;
      const s = segments[i]!;
      if (t.startsWith('{') && t.endsWith('}')) {
        if (s === '') matched = false;
        else {
          try {
            params[t.slice(1, -1)] = decodeURIComponent(s);
          } catch {
            return { kind: 'bad-path' };
          }
        }
      } else if (t !== s) matched = false;
    }
    if (!matched) continue;
    // RFC 9110 §9.3.2: HEAD is GET without the content (Node leaves the body out).
    if (r.method === method || (method === 'HEAD' && r.method === 'GET')) {
      return { kind: 'route', route: r, params };
    }
    allow.push(r.method);
    if (r.method === 'GET') allow.push('HEAD');
  }
  return allow.length > 0 ? { kind: 'method', allow } : { kind: 'none' };
}
