// The role contract suites on the PostgreSQL backend, against a real PostgreSQL started for
// this file (test/helpers/postgres.ts), a fresh database for each test. Only the roles the
// backend has so far run here (see src/store/postgres/postgres-store.ts).
import { after, before } from 'node:test';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { directoryContract } from './contract/directory.js';
import { mailboxContract } from './contract/mailboxes.js';

let server: TestPostgres;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

async function fresh() {
  const url = await server.createDatabase();
  const store = await PostgresStore.open({ connectionString: url, max: 4 });
  return {
    store,
    async cleanup() {
      await store.close();
      await server.dropDatabase(url);
    },
  };
}

directoryContract('postgres', fresh);
mailboxContract('postgres', fresh);
