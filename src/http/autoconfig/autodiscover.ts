// Microsoft Autodiscover, the plain-old-XML (POX) form Outlook and others ask for at
// /autodiscover/autodiscover.xml: a POSTed request naming an EMailAddress, and a response
// of the Outlook schema listing the IMAP, POP3 and SMTP settings.
import { createHash } from 'node:crypto';
import type { ClientService } from './services.js';
import { elementText, xmlEscape } from './xml.js';

export const RESPONSE_NS = 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006';
export const OUTLOOK_RESPONSE_NS =
  'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a';

export type AutodiscoverRequest =
  | { ok: true; emailAddress: string; responseSchema: string | undefined }
  | { ok: false; reason: string };

/**
 * Reads the request body: `<Autodiscover><Request><EMailAddress>` and the optional
 * `<AcceptableResponseSchema>`. A DOCTYPE is refused outright (no entity expansion, no
 * external entities); so is a missing or malformed EMailAddress.
 */
export function parseAutodiscoverRequest(body: string): AutodiscoverRequest {
  if (/<!DOCTYPE|<!ENTITY/i.test(body)) return { ok: false, reason: 'DOCTYPE not allowed' };
  if (!/<(?:[A-Za-z_][\w.-]*:)?Autodiscover[\s>]/.test(body)) {
    return { ok: false, reason: 'not an Autodiscover request' };
  }
  const email = elementText(body, 'EMailAddress');
  if (email === undefined) return { ok: false, reason: 'no EMailAddress' };
  if (email === null) return { ok: false, reason: 'malformed EMailAddress' };
  const schema = elementText(body, 'AcceptableResponseSchema');
  if (schema === null) return { ok: false, reason: 'malformed AcceptableResponseSchema' };
  return { ok: true, emailAddress: email.trim(), responseSchema: schema?.trim() || undefined };
}

const TYPE = { imap: 'IMAP', pop3: 'POP3', smtp: 'SMTP' } as const;

function protocol(s: ClientService, loginName: string): string {
  // SSL on: the connection is protected; Encryption says how: "SSL" from the first byte,
  // "TLS" by STARTTLS. The login name is the full address (DomainRequired off).
  return `      <Protocol>
        <Type>${TYPE[s.protocol]}</Type>
        <Server>${xmlEscape(s.host)}</Server>
        <Port>${s.port}</Port>
        <DomainRequired>off</DomainRequired>
        <LoginName>${xmlEscape(loginName)}</LoginName>
        <SPA>off</SPA>
        <SSL>on</SSL>
        <Encryption>${s.tls === 'implicit' ? 'SSL' : 'TLS'}</Encryption>
        <AuthRequired>on</AuthRequired>
${s.protocol === 'smtp' ? '        <UsePOPAuth>on</UsePOPAuth>\n        <SMTPLast>off</SMTPLast>\n' : ''}      </Protocol>
`;
}

/** The settings for an address of a local domain, every service in preference order. */
export function autodiscoverResponse(address: string, services: readonly ClientService[]): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="${RESPONSE_NS}">
  <Response xmlns="${OUTLOOK_RESPONSE_NS}">
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
${services.map((s) => protocol(s, address)).join('')}    </Account>
  </Response>
</Autodiscover>
`;
}

/**
 * An error response ([MS-OXDSCLI] §2.2.4.1.1.3): 600 for a request that is not one, 601 for a
 * response schema we do not provide (e.g. ActiveSync's mobilesync). `responseNs` is the schema
 * asked for, echoed as Exchange does (escaped); Id identifies this server by a hash of its name.
 */
export function autodiscoverError(
  code: 600 | 601,
  hostname: string,
  responseNs?: string,
  now = new Date(),
): string {
  const message = code === 600 ? 'Invalid Request' : 'Provider is not available';
  const id = createHash('sha256').update(hostname).digest().readUInt32BE(0);
  const time = now.toISOString().slice(11, 23);
  const ns = responseNs ? ` xmlns="${xmlEscape(responseNs)}"` : '';
  return `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="${RESPONSE_NS}">
  <Response${ns}>
    <Error Time="${time}" Id="${id}">
      <ErrorCode>${code}</ErrorCode>
      <Message>${message}</Message>
      <DebugData />
    </Error>
  </Response>
</Autodiscover>
`;
}
