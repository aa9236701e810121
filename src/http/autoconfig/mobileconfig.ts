// An Apple configuration profile (.mobileconfig) for one account: a com.apple.mail.managed
// payload that iOS, iPadOS and macOS Mail install as a mail account. The profile is not signed
// (the device shows it as "Not Signed"); it carries no password, the device asks for it.
import { createHash } from 'node:crypto';
import { type ClientService, incoming, outgoing } from './services.js';
import { xmlEscape } from './xml.js';

export const MOBILECONFIG_TYPE = 'application/x-apple-aspen-config';

type PlistValue = string | number | boolean | PlistValue[] | { [key: string]: PlistValue };

function plist(v: PlistValue, indent: string): string {
  if (typeof v === 'string') return `${indent}<string>${xmlEscape(v)}</string>\n`;
  if (typeof v === 'number') return `${indent}<integer>${Math.trunc(v)}</integer>\n`;
  if (typeof v === 'boolean') return `${indent}<${v}/>\n`;
  if (Array.isArray(v)) {
    return `${indent}<array>\n${v.map((x) => plist(x, `${indent}  `)).join('')}${indent}</array>\n`;
  }
  const entries = Object.entries(v)
    .map(([k, x]) => `${indent}  <key>${xmlEscape(k)}</key>\n${plist(x, `${indent}  `)}`)
    .join('');
  return `${indent}<dict>\n${entries}${indent}</dict>\n`;
}

/**
 * A UUID (RFC 9562 §5.8, version 8) derived from the hostname, the address and the payload's
 * role: the same account always gets the same identifiers, so installing a new profile replaces
 * the old one instead of adding a second account.
 */
export function stableUuid(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\0')).digest();
  h[6] = (h[6]! & 0x0f) | 0x80;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/**
 * The profile, or null when the config has no incoming or no outgoing client listener. Mail
 * takes one server of each kind: the first IMAP one (else POP3), and the first submission one,
 * so implicit TLS where it is configured. UseSSL is true for both TLS kinds: Mail speaks
 * implicit TLS on 993/995/465 and STARTTLS on 143/110/587 when SSL is on.
 */
export function appleMobileconfig(
  hostname: string,
  address: string,
  services: readonly ClientService[],
): string | null {
  const inSvcs = incoming(services);
  const inbound = inSvcs.find((s) => s.protocol === 'imap') ?? inSvcs[0];
  const outbound = outgoing(services)[0];
  if (!inbound || !outbound) return null;
  const host = hostname.toLowerCase().replace(/\.$/, '');
  // Reverse-DNS identifiers, as profiles use; the account part is the UUID, not the address.
  const base = `${host.split('.').reverse().join('.')}.letterbox`;
  const accountUuid = stableUuid(host, address, 'account');
  const profileUuid = stableUuid(host, address, 'profile');
  const account: PlistValue = {
    EmailAccountDescription: address,
    EmailAccountType: inbound.protocol === 'imap' ? 'EmailTypeIMAP' : 'EmailTypePOP',
    EmailAddress: address,
    IncomingMailServerAuthentication: 'EmailAuthPassword',
    IncomingMailServerHostName: inbound.host,
    IncomingMailServerPortNumber: inbound.port,
    IncomingMailServerUseSSL: true,
    IncomingMailServerUsername: address,
    OutgoingMailServerAuthentication: 'EmailAuthPassword',
    OutgoingMailServerHostName: outbound.host,
    OutgoingMailServerPortNumber: outbound.port,
    OutgoingMailServerUseSSL: true,
    OutgoingMailServerUsername: address,
    OutgoingPasswordSameAsIncomingPassword: true,
    PayloadDescription: `Mail account ${address}`,
    PayloadDisplayName: address,
    PayloadIdentifier: `${base}.account.${accountUuid}`,
    PayloadType: 'com.apple.mail.managed',
    PayloadUUID: accountUuid,
    PayloadVersion: 1,
  };
  const profile: PlistValue = {
    PayloadContent: [account],
    PayloadDescription: `Sets up the mail account ${address} on ${host}`,
    PayloadDisplayName: `Mail: ${address}`,
    PayloadIdentifier: `${base}.profile.${profileUuid}`,
    PayloadRemovalDisallowed: false,
    PayloadType: 'Configuration',
    PayloadUUID: profileUuid,
    PayloadVersion: 1,
  };
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
${plist(profile, '')}</plist>
`;
}
