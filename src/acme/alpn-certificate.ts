// The TLS-ALPN-01 challenge certificate (RFC 8737 §3), built here in DER: self-signed, its
// subjectAltName a single dNSName (the name being validated), the critical id-pe-acmeIdentifier
// extension (1.3.6.1.5.5.7.1.31) whose extnValue is the DER of Authorization ::= OCTET STRING
// (SIZE (32)) holding SHA-256 of the key authorization, and a critical keyUsage of
// digitalSignature so that TLS 1.2 ECDHE-ECDSA accepts it as well as TLS 1.3 (RFC 8737 §4
// allows either). A new P-256 key per certificate.
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';

const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID_COMMON_NAME = '2.5.4.3';
const OID_KEY_USAGE = '2.5.29.15';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
export const OID_ACME_IDENTIFIER = '1.3.6.1.5.5.7.1.31';

/** Validity around now: validators do not check it (RFC 8737 §4), clocks may be off. */
const VALID_BEFORE_MS = 3_600_000;
const VALID_AFTER_MS = 7 * 86_400_000;

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const seq = (...parts: Buffer[]) => tlv(0x30, ...parts);
const octets = (b: Buffer) => tlv(0x04, b);
const CRITICAL = Buffer.from([0x01, 0x01, 0xff]);

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const n of rest) {
    const base128 = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) {
      base128.unshift(0x80 | (v & 0x7f));
    }
    out.push(...base128);
  }
  return tlv(0x06, Buffer.from(out));
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  return d.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`, 'ascii'))
    : tlv(0x18, Buffer.from(`${iso}Z`, 'ascii'));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [CRITICAL] : []), octets(value));
}

/**
 * The challenge certificate and its key (PEM) for `name` and the challenge's key
 * authorization (RFC 8555 §8.1: token "." thumbprint).
 */
export function createAlpnChallengeCertificate(
  name: string,
  keyAuthorization: string,
  now = new Date(),
): { cert: string; key: string } {
  // dNSName is an IA5String: an internationalized name is given in its A-label form.
  if (!/^[\x21-\x7e]+$/.test(name)) throw new Error(`not an ASCII DNS name: ${name}`);
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const algorithm = seq(oid(OID_ECDSA_SHA256));
  // The subject says what this is; the name validated is the subjectAltName alone.
  const dn = seq(tlv(0x31, seq(oid(OID_COMMON_NAME), tlv(0x0c, Buffer.from('ACME tls-alpn-01')))));
  const serial = randomBytes(16);
  // A positive INTEGER in minimal DER: top bit clear, first byte never 0.
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  const digest = createHash('sha256').update(keyAuthorization).digest();
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))), // v3
    tlv(0x02, serial),
    algorithm,
    dn,
    seq(
      time(new Date(now.getTime() - VALID_BEFORE_MS)),
      time(new Date(now.getTime() + VALID_AFTER_MS)),
    ),
    dn,
    publicKey.export({ type: 'spki', format: 'der' }),
    tlv(
      0xa3,
      seq(
        extension(OID_SUBJECT_ALT_NAME, false, seq(tlv(0x82, Buffer.from(name, 'ascii')))),
        // digitalSignature (bit 0): BIT STRING, 7 unused bits, 0x80.
        extension(OID_KEY_USAGE, true, Buffer.from([0x03, 0x02, 0x07, 0x80])),
        extension(OID_ACME_IDENTIFIER, true, octets(digest)),
      ),
    ),
  );
  const signature = sign('sha256', tbs, { key: privateKey, dsaEncoding: 'der' });
  const der = seq(tbs, algorithm, tlv(0x03, Buffer.from([0]), signature));
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return {
    cert: `-----BEGIN CERTIFICATE-----\n${b64.replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`,
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}
