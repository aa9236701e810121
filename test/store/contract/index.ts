// Every role's contract suite, for a backend that has every role (a MailStore).
import type { MailStore } from '../../../src/store/types.js';
import { blobContract } from './blobs.js';
import { directoryContract } from './directory.js';
import { eventContract } from './events.js';
import type { StoreFactory } from './fixture.js';
import { mailboxContract } from './mailboxes.js';
import { maildropLockContract } from './maildrop-locks.js';
import { messageContract } from './messages.js';
import { metadataContract } from './metadata.js';
import { queueContract } from './queue.js';

export function storeContracts(name: string, make: StoreFactory<MailStore>): void {
  directoryContract(name, make);
  mailboxContract(name, make);
  messageContract(name, make);
  blobContract(name, make);
  metadataContract(name, make);
  queueContract(name, make);
  maildropLockContract(name, make);
  eventContract(name, make);
}
