// The JSON body of an admin API request: at most MAX_BODY bytes (else 413 before more is
// read), declared `application/json` (else 415), parsed (else 400). The bytes are never logged:
// they may hold a password.
import type http from 'node:http';

/** RFC 9110 §15.5.14: a larger body is refused with 413. */
export const MAX_BODY = 64 * 1024;

export type BodyResult =
  | { ok: true; value: unknown }
  | { ok: false; status: 400 | 413 | 415; error: string; message: string };

/** `application/json`, with or without parameters (RFC 8259 §11 defines no charset one). */
function isJson(contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

const tooLarge = {
  ok: false as const,
  status: 413 as const,
  error: 'too_large',
  message: `the body is larger than ${MAX_BODY} bytes`,
};

/** Reads the body; undefined when there is none (no content, as a GET or a bare POST sends). */
export async function readJsonBody(req: http.IncomingMessage): Promise<BodyResult> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > MAX_BODY) return tooLarge;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return tooLarge;
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return { ok: true, value: undefined };
  if (!isJson(req.headers['content-type'])) {
    return {
      ok: false,
      status: 415,
      error: 'unsupported_media_type',
      message: 'the body must be application/json',
    };
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch {
    return { ok: false, status: 400, error: 'invalid_json', message: 'the body is not JSON' };
  }
}
