// Thunderbird autoconfiguration: the clientConfig 1.1 document of Mozilla's ISPDB format, served
// at /.well-known/autoconfig/mail/config-v1.1.xml and /mail/config-v1.1.xml (autoconfig.DOMAIN).
import { type ClientService, incoming, outgoing } from './services.js';
import { xmlEscape } from './xml.js';

/** clientConfig socketType values: "SSL" is implicit TLS, "STARTTLS" the upgrade. */
const SOCKET_TYPE = { implicit: 'SSL', starttls: 'STARTTLS' } as const;

function server(tag: 'incomingServer' | 'outgoingServer', s: ClientService): string {
  // %EMAILADDRESS% is the format's placeholder, filled in by the client: the login name is the
  // full address, and the document stays the same for every user (no account enumeration).
  return `    <${tag} type="${s.protocol}">
      <hostname>${xmlEscape(s.host)}</hostname>
      <port>${s.port}</port>
      <socketType>${SOCKET_TYPE[s.tls]}</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </${tag}>
`;
}

/** The document for a local domain: incoming then outgoing servers, each in preference order. */
export function thunderbirdConfig(domain: string, services: readonly ClientService[]): string {
  const d = xmlEscape(domain);
  return `<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="${d}">
    <domain>${d}</domain>
    <displayName>${d}</displayName>
    <displayShortName>${d}</displayShortName>
${incoming(services)
  .map((s) => server('incomingServer', s))
  .join('')}${outgoing(services)
  .map((s) => server('outgoingServer', s))
  .join('')}  </emailProvider>
</clientConfig>
`;
}
