// The catalog of replies the SMTP server sends. Tests and logs rely on these codes: change a
// code here, never inline in a handler. Enhanced codes are from RFC 3463 (registry: RFC 5248)
// unless another RFC is named. Text may carry an argument; SmtpReply sanitizes it.
import { fixedReply, SmtpReply } from './reply.js';

// --- Connection -----------------------------------------------------------------------------

/** Greeting on connect. RFC 5321 §4.3.1; RFC 2034 example: no enhanced code on the 220. */
export const greeting = (host: string, banner = 'ESMTP Letterbox') =>
  new SmtpReply(220, null, `${host} ${banner}`);

/**
 * Answer to EHLO: the first line greets, the others are extension keywords (see ehlo.ts).
 * RFC 5321 §4.1.1.1. No enhanced code: keywords must begin each line.
 */
export const ehlo = (host: string, keywords: readonly string[], greet = 'Hello') =>
  new SmtpReply(250, null, [`${host} ${greet}`, ...keywords]);

/** Answer to HELO (RFC 5321 §4.1.1.1): no extensions are listed. */
export const helo = (host: string) => new SmtpReply(250, null, `${host} Hello`);

/** Answer to QUIT before closing. RFC 5321 §4.1.1.10. */
export const bye = fixedReply(221, '2.0.0', 'Bye');

/** Server is stopping: sent to open sessions before closing them. RFC 3463 X.3.2. */
export const shuttingDown = () =>
  new SmtpReply(421, '4.3.2', 'Service shutting down, closing connection');

/** Idle or command timeout (RFC 5321 §4.5.3.2): closing. RFC 3463 X.4.2 "bad connection". */
export const timeout = () => new SmtpReply(421, '4.4.2', 'Timeout, closing connection');

/** Too many bad commands or failures in one session: closing. RFC 3463 X.7.0. */
export const tooManyErrors = () =>
  new SmtpReply(421, '4.7.0', 'Too many errors, closing connection');

/** Too many connections from this address, or a rate limit: closing. RFC 3463 X.7.0. */
export const tooManyConnections = () =>
  new SmtpReply(421, '4.7.0', 'Too many connections, try again later');

// --- Success --------------------------------------------------------------------------------

/** Generic success: RSET, NOOP. RFC 3463 X.0.0. */
export const ok = (text = 'OK') => new SmtpReply(250, '2.0.0', text);

/** MAIL accepted. RFC 3463 X.1.0 "other address status" (the originator is fine). */
export const senderOk = fixedReply(250, '2.1.0', 'Sender OK');

/** RCPT accepted. RFC 3463 X.1.5 "destination address valid". */
export const recipientOk = fixedReply(250, '2.1.5', 'Recipient OK');

/** Message stored (after DATA's final dot or BDAT LAST). RFC 3463 X.6.0. */
export const messageAccepted = (id: string) =>
  new SmtpReply(250, '2.6.0', `Message accepted as ${id}`);

/** A non-final BDAT chunk was received (RFC 3030 §2). */
export const chunkAccepted = (size: number) =>
  new SmtpReply(250, '2.0.0', `${size} octets received`);

/** Go ahead with the message. RFC 5321 §4.1.1.4; intermediate replies carry no enhanced code. */
export const startData = fixedReply(354, null, 'End data with <CR><LF>.<CR><LF>');

/** VRFY is not answered truthfully (address harvesting). RFC 5321 §3.5.3 allows 252. */
export const cannotVerify = () =>
  new SmtpReply(252, '2.1.5', 'Cannot VRFY user, but will accept message and attempt delivery');

/** HELP. RFC 5321 §4.1.1.8. */
export const help = () => new SmtpReply(214, '2.0.0', 'See https://www.rfc-editor.org/rfc/rfc5321');

/** STARTTLS accepted: the TLS handshake follows. RFC 3207 §4. */
export const readyForTls = () => new SmtpReply(220, '2.0.0', 'Ready to start TLS');

/** SASL challenge (base64, possibly empty). RFC 4954 §4: no enhanced code on 334. */
export const authChallenge = (base64: string) => new SmtpReply(334, null, base64);

/** Authentication succeeded. RFC 4954 §6: 235 2.7.0. */
export const authOk = () => new SmtpReply(235, '2.7.0', 'Authentication successful');

// --- Transient failures ---------------------------------------------------------------------

/** An internal error (store, disk, bug): try later; details go to the log only. X.3.0. */
export const localError = () =>
  new SmtpReply(451, '4.3.0', 'Local error in processing, try again later');

/** Recipient limit per message reached (RFC 5321 §4.5.3.1.8 says 452). RFC 3463 X.5.3. */
export const tooManyRecipients = () => new SmtpReply(452, '4.5.3', 'Too many recipients');

/** STARTTLS offered but the TLS context is unavailable. RFC 3207 §4: 454 4.7.0. */
export const tlsUnavailable = () =>
  new SmtpReply(454, '4.7.0', 'TLS not available due to temporary reason');

/** A temporary authentication failure (directory down). RFC 4954 §6: 454 4.7.0. */
export const authTemporaryFailure = () =>
  new SmtpReply(454, '4.7.0', 'Temporary authentication failure');

// --- Permanent failures: syntax and sequence ------------------------------------------------

/** Command line longer than the limit (RFC 5321 §4.5.3.1.4, §4.2.2 "500 line too long"). */
export const lineTooLong = () => new SmtpReply(500, '5.5.2', 'Line too long');

/** Verb not known (RFC 5321 §4.2.4). RFC 3463 X.5.1 "invalid command". */
export const unrecognizedCommand = () => new SmtpReply(500, '5.5.1', 'Command unrecognized');

/** NUL, control or invalid UTF-8 bytes in a command line. RFC 3463 X.5.2 "syntax error". */
export const invalidCharacters = () => new SmtpReply(500, '5.5.2', 'Invalid characters in command');

/** Bad arguments to a known command (RFC 5321 §4.2.2: 501). RFC 3463 X.5.4. */
export const syntaxError = (text = 'Syntax error in parameters or arguments') =>
  new SmtpReply(501, '5.5.4', text);

/** MAIL FROM path does not parse. RFC 3463 X.1.7 "bad sender mailbox address syntax". */
export const badSenderSyntax = (text = 'Bad sender address syntax') =>
  new SmtpReply(501, '5.1.7', text);

/** RCPT TO path does not parse. RFC 3463 X.1.3 "bad destination mailbox address syntax". */
export const badRecipientSyntax = (text = 'Bad recipient address syntax') =>
  new SmtpReply(501, '5.1.3', text);

/** Known command we do not implement (TURN, ETRN, SEND, ...). RFC 5321 §4.2.4: 502. */
export const notImplemented = () => new SmtpReply(502, '5.5.1', 'Command not implemented');

/** Command not allowed in the current state (RFC 5321 §4.1.4, §4.3.2). RFC 3463 X.5.1. */
export const badSequence = (text = 'Bad sequence of commands') => new SmtpReply(503, '5.5.1', text);

/** Unsupported command parameter, e.g. unknown AUTH mechanism (RFC 4954 §4). X.5.4. */
export const parameterNotImplemented = (text = 'Command parameter not implemented') =>
  new SmtpReply(504, '5.5.4', text);

/** Unknown MAIL/RCPT parameter, or one of an extension not offered (RFC 5321 §4.1.1.11). */
export const unknownParameter = (name: string) =>
  new SmtpReply(555, '5.5.4', `Parameter ${name} not recognized`);

/** DATA with no accepted recipient (RFC 5321 §3.3: 554 "no valid recipients"). X.5.1. */
export const noValidRecipients = () => new SmtpReply(554, '5.5.1', 'No valid recipients');

// --- Permanent failures: security and policy ------------------------------------------------

/** MAIL on submission before AUTH (RFC 4954 §6: 530 5.7.0). */
export const authRequired = () => new SmtpReply(530, '5.7.0', 'Authentication required');

/** AUTH, MAIL etc. on a cleartext port that requires STARTTLS first (RFC 3207 §4). */
export const mustStartTls = () =>
  new SmtpReply(530, '5.7.0', 'Must issue a STARTTLS command first');

/** Wrong user name or password (RFC 4954 §6: 535 5.7.8). */
export const authFailed = () => new SmtpReply(535, '5.7.8', 'Authentication credentials invalid');

/** Mechanism needs TLS, which is not active (RFC 4954 §6: 538 5.7.11). */
export const encryptionRequired = () =>
  new SmtpReply(538, '5.7.11', 'Encryption required for requested authentication mechanism');

/** Client cancelled the SASL exchange with "*" (RFC 4954 §4: 501). */
export const authCancelled = () => new SmtpReply(501, '5.7.0', 'Authentication cancelled');

/** A SASL response that is not base64 (RFC 4954 §4: 501). RFC 3463 X.5.2. */
export const authBadBase64 = () => new SmtpReply(501, '5.5.2', 'Cannot decode base64 response');

/** SASL response line longer than allowed (RFC 4954 §4 and §6: 500 5.5.6). */
export const authLineTooLong = () =>
  new SmtpReply(500, '5.5.6', 'Authentication exchange line is too long');

/** Recipient of a local domain does not exist. RFC 3463 X.1.1 "bad destination mailbox". */
export const noSuchUser = (address: string) =>
  new SmtpReply(550, '5.1.1', `No such user: ${address}`);

/** Recipient of a domain we do not serve, and the client may not relay. RFC 3463 X.7.1. */
export const relayDenied = () => new SmtpReply(550, '5.7.1', 'Relaying denied');

/**
 * A path shape that policy refuses: source routes (RFC 5321 §4.1.1.3, Appendix C), `%` or `@`
 * inside the local part of a remote-looking address. RFC 3463 X.7.1.
 */
export const addressRefused = (text = 'Address not accepted') => new SmtpReply(550, '5.7.1', text);

/** Message or declared SIZE over the limit (RFC 1870 §4: 552). RFC 3463 X.3.4 "too big". */
export const messageTooBig = (max: number) =>
  new SmtpReply(552, '5.3.4', `Message size exceeds fixed maximum of ${max} octets`);

/** The recipient's mailbox is over quota. RFC 3463 X.2.2 "mailbox full". */
export const overQuota = (address: string) =>
  new SmtpReply(552, '5.2.2', `Mailbox full: ${address}`);

/** Submission: envelope sender or From not owned by the authenticated account. X.7.1. */
export const senderNotOwned = () =>
  new SmtpReply(553, '5.7.1', 'Sender address not owned by authenticated user');

/**
 * Submission: a From or Sender mailbox of the message that the authenticated account does not
 * own. RFC 6409 §6.3: "550 with an appropriate enhanced status code ... (such as 5.7.1) is
 * used to reject based on the submitting user" (553 is not a reply to the end of DATA, RFC
 * 5321 §4.3.2). RFC 3463 X.7.1 "delivery not authorized, message refused".
 */
export const originatorNotOwned = (field: 'From' | 'Sender', address: string) =>
  new SmtpReply(550, '5.7.1', `${field} address ${address} not owned by authenticated user`);

/**
 * Submission: a From or Sender address that cannot be checked (no domain, bad syntax, a
 * domain literal, an encoded-word). RFC 6409 §5.1: 554 after the end of data "if the message
 * contains invalid addresses in the header"; RFC 3463 X.1.7 "bad sender's mailbox address
 * syntax" ("can apply to any field in the address").
 */
export const badOriginatorAddress = (text: string) => new SmtpReply(554, '5.1.7', text);

/** UTF-8 address without SMTPUTF8 (RFC 6531 §3.5: 553 with X.6.7, registered by RFC 6531). */
export const nonAsciiAddress = () =>
  new SmtpReply(553, '5.6.7', 'Non-ASCII addresses require SMTPUTF8');

/**
 * The message contained bare CR or LF (RFC 5321 §2.3.8: CR and LF occur only together) and
 * the policy is 'reject' (see data-reader.ts). RFC 3463 X.6.0 "other or undefined media
 * error": Exchange Online sends 550 5.6.11 for this, but X.6.11 is not in the IANA registry
 * (RFC 5248), so we use the registered code.
 */
export const bareLineEnding = () =>
  new SmtpReply(550, '5.6.0', 'Message contains bare CR or LF, lines must end with CRLF');

/** Content refused for another media reason (bad MIME, 8-bit data in a 7BIT body). X.6.0. */
export const contentRejected = (text = 'Message content rejected') =>
  new SmtpReply(554, '5.6.0', text);

/** Refused by a policy check (DMARC reject, blocked peer). RFC 3463 X.7.1. */
export const policyRejected = (text = 'Rejected by policy') => new SmtpReply(554, '5.7.1', text);

/**
 * The server's memory for messages in transit is spent for now (limits.message_memory): a
 * temporary condition, try later. RFC 5321 §4.2.2 452, RFC 3463 X.3.1 (mail system full).
 */
export const memoryBusy = () =>
  new SmtpReply(452, '4.3.1', 'Insufficient system storage right now, try again later');
