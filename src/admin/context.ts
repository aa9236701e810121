// What the admin operations work on: the store and the config, and in the running server the
// login throttle (whether an account is locked out now is known only to that process).
import type { Config } from '../config/schema.js';
import type { Account, MailStore } from '../store/types.js';

export interface AdminContext {
  store: MailStore;
  cfg: Config;
  /** Whether the account's logins are locked out now; absent (the CLI): never said. */
  locked?: (account: Account) => boolean | Promise<boolean>;
}
