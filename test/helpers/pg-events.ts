// A PostgreSQL store's change-event machinery (src/store/postgres/events.ts), for tests that
// look at which accounts a node listens to, its epoch and its leases.
import type { PgEvents } from '../../src/store/postgres/events.js';
import type { PostgresStore } from '../../src/store/postgres/postgres-store.js';

export function eventsOf(store: PostgresStore): PgEvents {
  return (store as unknown as { events: PgEvents }).events;
}
