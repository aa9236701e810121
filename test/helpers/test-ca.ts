// A certificate authority for tests that need a certificate a client verifies (MTA-STS policy
// fetch, SMTP TLS 'required'): the client trusts `ca.cert`, servers use leaves it signs.
import { generate } from 'selfsigned';

export interface TestCa {
  /** PEM of the CA certificate, to pass as `ca` to the client. */
  cert: string;
  /** A certificate for these DNS names, signed by this CA. */
  issue(names: string[]): Promise<{ cert: string; key: string }>;
}

const notBeforeDate = () => new Date(Date.now() - 60_000);

export async function createTestCa(): Promise<TestCa> {
  const ca = await generate([{ name: 'commonName', value: 'Letterbox Test CA' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: notBeforeDate(),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      {
        name: 'keyUsage',
        keyCertSign: true,
        cRLSign: true,
        digitalSignature: true,
        critical: true,
      },
    ],
  });
  return {
    cert: ca.cert,
    async issue(names) {
      const leaf = await generate([{ name: 'commonName', value: names[0]! }], {
        keyType: 'ec',
        algorithm: 'sha256',
        notBeforeDate: notBeforeDate(),
        ca: { key: ca.private, cert: ca.cert },
        extensions: [
          { name: 'basicConstraints', cA: false, critical: true },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
          { name: 'extKeyUsage', serverAuth: true },
          { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2, value })) },
        ],
      });
      return { cert: leaf.cert, key: leaf.private };
    },
  };
}
