// What a mail client needs to know to reach this server: the configured client listeners, in
// the order clients should prefer them. Every autoconfiguration format (Thunderbird,
// Autodiscover, Apple) is written from this one list.
import type { Config, ListenerName } from '../../config/schema.js';

export type ClientProtocol = 'imap' | 'pop3' | 'smtp';

export interface ClientService {
  protocol: ClientProtocol;
  listener: ListenerName;
  host: string;
  port: number;
  /** implicit: TLS from the first byte (RFC 8314 §3); starttls: upgraded before AUTH. */
  tls: 'implicit' | 'starttls';
}

/**
 * RFC 8314 §5.1: clients should prefer implicit TLS, so the implicit-TLS listeners come first
 * (IMAP 993, POP3 995, submission 465), then the STARTTLS ones (143, 110, 587). Port 25 (the
 * MX) is not for clients. A listener without TLS is never offered: passwords are refused there
 * outside [auth] plaintext_networks (RFC 8314 §3), so a client configured for it would fail.
 */
const PREFERENCE: Array<{ listener: ListenerName; protocol: ClientProtocol }> = [
  { listener: 'imaps', protocol: 'imap' },
  { listener: 'pop3s', protocol: 'pop3' },
  { listener: 'submissions', protocol: 'smtp' },
  { listener: 'imap', protocol: 'imap' },
  { listener: 'pop3', protocol: 'pop3' },
  { listener: 'submission', protocol: 'smtp' },
];

/** The enabled client listeners with TLS, implicit TLS first; the host is the public hostname. */
export function clientServices(cfg: Config): ClientService[] {
  const host = cfg.hostname.toLowerCase().replace(/\.$/, '');
  const out: ClientService[] = [];
  for (const tls of ['implicit', 'starttls'] as const) {
    for (const p of PREFERENCE) {
      const l = cfg.listeners[p.listener];
      if (!l.enabled || l.tls !== tls) continue;
      out.push({ protocol: p.protocol, listener: p.listener, host, port: l.port, tls });
    }
  }
  return out;
}

/** Incoming (IMAP, then POP3 within each TLS kind) and outgoing services, in preference order. */
export function incoming(services: readonly ClientService[]): ClientService[] {
  return services.filter((s) => s.protocol !== 'smtp');
}
export function outgoing(services: readonly ClientService[]): ClientService[] {
  return services.filter((s) => s.protocol === 'smtp');
}
