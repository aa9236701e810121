// The command table: name -> { states, parse, run }. One dispatcher (session.ts) checks the
// state and the syntax, then runs the handler.
import { APPEND } from './append.js';
import { AUTHENTICATE, LOGIN } from './auth.js';
import { CHECK, ENABLE, ID, LOGOUT, NAMESPACE, NOOP } from './basic.js';
import { CAPABILITY } from './capability.js';
import { COPY, MOVE, UID_COPY, UID_MOVE } from './copy-move.js';
import { FETCH, UID_FETCH } from './fetch.js';
import { IDLE } from './idle.js';
import { LIST, LSUB } from './list.js';
import { CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE } from './mailboxes.js';
import { GETMETADATA, SETMETADATA } from './metadata.js';
import { NOTIFY } from './notify.js';
import { GETQUOTA, GETQUOTAROOT, SETQUOTA } from './quota.js';
import { REPLACE, UID_REPLACE } from './replace.js';
import { SEARCH, UID_SEARCH } from './search.js';
import { CANCELUPDATE } from './search-update.js';
import { CLOSE, EXAMINE, EXPUNGE, SELECT, UID_EXPUNGE, UNSELECT } from './select.js';
import { SORT, THREAD, UID_SORT, UID_THREAD } from './sort-thread.js';
import { STATUS } from './status.js';
import { STORE, UID_STORE } from './store.js';
import { COMPRESS, STARTTLS } from './tls-compress.js';
import type { CommandSpec } from './types.js';

const ALL: CommandSpec<never>[] = [
  CAPABILITY,
  NOOP,
  LOGOUT,
  STARTTLS,
  AUTHENTICATE,
  LOGIN,
  ENABLE,
  ID,
  NAMESPACE,
  SELECT,
  EXAMINE,
  CREATE,
  DELETE,
  RENAME,
  SUBSCRIBE,
  UNSUBSCRIBE,
  LIST,
  LSUB,
  STATUS,
  APPEND,
  IDLE,
  CHECK,
  CLOSE,
  UNSELECT,
  EXPUNGE,
  UID_EXPUNGE,
  SEARCH,
  UID_SEARCH,
  FETCH,
  UID_FETCH,
  STORE,
  UID_STORE,
  COPY,
  UID_COPY,
  MOVE,
  UID_MOVE,
  SORT,
  UID_SORT,
  THREAD,
  UID_THREAD,
  CANCELUPDATE,
  GETQUOTA,
  GETQUOTAROOT,
  SETQUOTA,
  COMPRESS,
  NOTIFY,
  REPLACE,
  UID_REPLACE,
  GETMETADATA,
  SETMETADATA,
];

export const COMMANDS: ReadonlyMap<string, CommandSpec<never>> = new Map(
  ALL.map((c) => [c.name, c]),
);
