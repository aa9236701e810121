// HTTP-01 validation (RFC 8555 §8.3): the CA fetches
// http://<name>/.well-known/acme-challenge/<token> and expects the key authorization as the
// body. Only tokens of a validation in progress are known; anything else is 404.
import type http from 'node:http';
import type { AcmeChallenges } from '../acme/challenges.js';

export const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

// §8.3: the token is base64url (RFC 4648 §5) without padding; §8.1: at least 128 bits of it.
const TOKEN = /^[A-Za-z0-9_-]{22,}$/;

export function serveAcmeChallenge(
  challenges: AcmeChallenges,
  path: string,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): void {
  const token = path.slice(ACME_CHALLENGE_PREFIX.length);
  const keyAuthorization = TOKEN.test(token) ? challenges.get(token) : undefined;
  if (keyAuthorization === undefined) reply(res, 404, 'not found\n');
  else if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    reply(res, 405, 'method not allowed\n');
  } else reply(res, 200, keyAuthorization);
}

function reply(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'application/octet-stream',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
