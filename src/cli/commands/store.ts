// `letterbox store ...`: operations on the mail store as a whole (migrate: store-migrate.ts).
import type { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { registerStoreMigrate } from './store-migrate.js';

export function registerStore(program: Command, globals: () => GlobalOptions): void {
  const store = program
    .command('store')
    .description('the mail store as a whole: move it between SQLite and PostgreSQL');
  registerStoreMigrate(store, globals);
}
