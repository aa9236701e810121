// Store errors are values with a stable code; each protocol maps the code to its own answer
// (IMAP `NO [NONEXISTENT]`, SMTP 552 5.2.2, POP3 `-ERR [SYS/PERM]`, CLI exit code 1).

export type StoreErrorCode =
  | 'NOT_FOUND' // a named thing (domain, account, mailbox, alias) does not exist
  | 'EXISTS' // creating something that already exists
  | 'INVALID' // a malformed name or value
  | 'IN_USE' // removal refused while something still depends on it
  | 'OVERQUOTA' // the write would exceed the account's quota (RFC 9208 OVERQUOTA)
  | 'NOT_ALLOWED' // e.g. deleting INBOX
  | 'LIMIT' // a configured limit (mailboxes per account, nesting depth, name length)
  | 'UNAVAILABLE'; // the store cannot be reached now (a database restarting): try again later

export class StoreError extends Error {
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

export function isStoreError(err: unknown, code?: StoreErrorCode): err is StoreError {
  return err instanceof StoreError && (code === undefined || err.code === code);
}
