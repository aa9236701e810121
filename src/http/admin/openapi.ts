// The OpenAPI 3.1 document of the admin API, generated from the route table and its zod
// schemas (z.toJSONSchema), so that it cannot drift from what the routes take and answer.
import { z } from 'zod';
import { letterboxVersion } from '../../version.js';
import { API_PREFIX, type ApiRoute } from './router.js';
import { errorBody } from './views.js';

const ERRORS: Record<number, string> = {
  400: 'Invalid request: the issues are listed',
  401: 'No bearer token, or a wrong or expired one',
  403: 'Not over TLS from a network outside [auth] plaintext_networks',
  404: 'No such thing',
  409: 'Exists already, or in use',
  413: 'The body is larger than 64 KiB',
  415: 'The body is not application/json',
};

/**
 * JSON Schema of a zod schema as a request (input) or a response (output) body. Schemas named
 * with `.meta({ id })` come out as `$defs`; in an OpenAPI document a `#/...` reference is read
 * from the document's root, so they are moved into `components` and their references rewritten.
 */
function schemaOf(
  schema: z.ZodType,
  io: 'input' | 'output',
  components: Record<string, unknown>,
): Record<string, unknown> {
  const {
    $schema: _,
    $defs,
    ...rest
  } = z.toJSONSchema(schema, {
    io,
    target: 'draft-2020-12',
    unrepresentable: 'any',
    reused: 'inline',
  }) as Record<string, unknown> & { $defs?: Record<string, unknown> };
  const relink = (v: unknown): unknown =>
    JSON.parse(JSON.stringify(v).replaceAll('"#/$defs/', '"#/components/schemas/'));
  for (const [id, def] of Object.entries($defs ?? {})) components[id] ??= relink(def);
  return relink(rest) as Record<string, unknown>;
}

const json = (schema: Record<string, unknown>) => ({
  content: { 'application/json': { schema } },
});

export function openApiDocument(routes: readonly ApiRoute[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const schemas: Record<string, unknown> = {};
  // The error body's schema, named Error: the routes' error answers refer to it.
  schemaOf(errorBody, 'output', schemas);
  for (const r of routes) {
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
      description: 'URL-encoded (%40 for @)',
    }));
    const query = Object.entries(r.query ?? {}).map(([name, q]) => ({
      name,
      in: 'query',
      required: false,
      description: q.description,
      schema: schemaOf(q.schema, 'input', schemas),
    }));
    const responses: Record<string, unknown> = {};
    for (const [status, res] of Object.entries(r.responses)) {
      responses[status] = {
        description: res.description,
        ...(res.schema ? json(schemaOf(res.schema, 'output', schemas)) : {}),
      };
    }
    const errors = [
      ...(r.body ? [400, 413, 415] : []),
      ...(r.path.includes('{') ? [400, 404] : []),
      ...(r.method === 'POST' && !r.path.includes('{') ? [409] : []),
      ...(r.public ? [] : [401, 403]),
      ...(r.path === '/session' && r.method === 'POST' ? [401] : []),
    ];
    for (const status of new Set(errors)) {
      responses[status] ??= {
        description: ERRORS[status],
        ...json({ $ref: '#/components/schemas/Error' }),
      };
    }
    paths[r.path] ??= {};
    paths[r.path]![r.method.toLowerCase()] = {
      summary: r.summary,
      tags: [r.tag],
      operationId: `${r.method.toLowerCase()}${r.path.replace(/\{(\w+)\}/g, 'By_$1').replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
      ...(r.public ? { security: [] } : {}),
      ...(params.length + query.length > 0 ? { parameters: [...params, ...query] } : {}),
      ...(r.body
        ? {
            requestBody: {
              // Optional where an empty object would do (PATCH, a DKIM key with defaults).
              required: !r.body.safeParse({}).success,
              ...json(schemaOf(r.body, 'input', schemas)),
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Letterbox admin API',
      version: letterboxVersion(),
      description:
        'The operations of the letterbox CLI over JSON: domains, accounts, aliases, app ' +
        'passwords, quotas, the outbound queue, DKIM keys and DNS records (docs/admin-api.md).',
    },
    servers: [{ url: API_PREFIX }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'The admin token, or a session from POST /session',
        },
      },
      schemas,
    },
  };
}
