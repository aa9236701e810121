// The POP3 command table: keyword -> allowed states and handler.
import { APOP, AUTH, PASS, STLS, USER } from './authorization.js';
import { CAPA, QUIT } from './common.js';
import { DELE, LIST, NOOP, RETR, RSET, STAT, TOP, UIDL } from './transaction.js';
import type { CommandSpec } from './types.js';

export const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  USER,
  PASS,
  AUTH,
  STLS,
  APOP,
  CAPA,
  QUIT,
  STAT,
  LIST,
  UIDL,
  RETR,
  TOP,
  DELE,
  RSET,
  NOOP,
};
