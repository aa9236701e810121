// A route on the HTTP listener that lives in its own module (autoconfig, ...): the paths it
// answers, the methods it takes, and its handler. server.ts looks these up after its own.
import type http from 'node:http';

export interface HttpRoute {
  /** Exact request paths (without the query) this route answers. */
  readonly paths: readonly string[];
  /**
   * Every path that starts with this is the route's (the admin API's /api/v1/); it answers
   * 404 and 405 itself. `paths` and `methods` are then not looked at.
   */
  readonly prefix?: string;
  /** Methods it takes; others get 405 with an Allow field (RFC 9110 §15.5.6). */
  readonly methods: readonly string[];
  handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
}
