// `[store]` in the config (issue 17): sqlite by default, postgres with a URL and the password
// apart from it; openStore opens the one named.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { openStore } from '../../src/store/open.js';
import { eventually } from '../helpers/eventually.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

const FILE = '/etc/letterbox/letterbox.toml';

describe('[store] in the config', () => {
  const cases: Array<[string, string, unknown]> = [
    ['absent: sqlite', '', { kind: 'sqlite' }],
    ['empty section: sqlite', '[store]\n', { kind: 'sqlite' }],
    ['sqlite', '[store]\nkind = "sqlite"\n', { kind: 'sqlite' }],
    [
      'postgres with defaults',
      '[store]\nkind = "postgres"\nurl = "postgres://letterbox@db.internal/mail"\n',
      {
        kind: 'postgres',
        url: 'postgres://letterbox@db.internal/mail',
        pool_size: 10,
        pool_idle_seconds: 300,
        query_timeout_seconds: 30,
      },
    ],
    [
      'postgres, password file relative to the config file',
      '[store]\nkind = "postgres"\nurl = "postgres://lb@db/mail"\npassword_file = "pg.pass"\npool_size = 3\nnode_id = "mx1"\nquery_timeout_seconds = 2.5\n',
      {
        kind: 'postgres',
        url: 'postgres://lb@db/mail',
        password_file: '/etc/letterbox/pg.pass',
        pool_size: 3,
        pool_idle_seconds: 300,
        query_timeout_seconds: 2.5,
        node_id: 'mx1',
      },
    ],
  ];
  for (const [name, toml, want] of cases) {
    test(name, () => {
      assert.deepEqual(parseConfig(toml, FILE).store, want);
    });
  }

  const refused: Array<[string, string, RegExp]> = [
    [
      'a password in the URL',
      '[store]\nkind = "postgres"\nurl = "postgres://lb:secret@db/mail"\n',
      /store\.url: must be a postgres:\/\/ URL without a password/,
    ],
    ['no URL', '[store]\nkind = "postgres"\n', /store\.url/],
    ['an unknown kind', '[store]\nkind = "mysql"\n', /store\.kind/],
    ['a postgres key for sqlite', '[store]\nkind = "sqlite"\nurl = "x"\n', /store.*url/],
  ];
  for (const [name, toml, re] of refused) {
    test(`refused: ${name}`, () => {
      assert.throws(
        () => parseConfig(toml, FILE),
        (e: unknown) => e instanceof ConfigError && re.test(e.message) && !/secret/.test(e.message),
      );
    });
  }
});

describe('[search] full_text_index', () => {
  test('on-search unless set to on-delivery; anything else refused', () => {
    assert.equal(parseConfig('', FILE).search.full_text_index, 'on-search');
    for (const v of ['on-search', 'on-delivery']) {
      const cfg = parseConfig(`[search]\nfull_text_index = "${v}"\n`, FILE);
      assert.equal(cfg.search.full_text_index, v);
    }
    assert.throws(
      () => parseConfig('[search]\nfull_text_index = "never"\n', FILE),
      (e: unknown) => e instanceof ConfigError && /search\.full_text_index/.test(e.message),
    );
  });

  test('the SQLite store takes the mode the config names', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lb-open-'));
    try {
      for (const [toml, want] of [
        ['', 'on-search'],
        ['[search]\nfull_text_index = "on-search"\n', 'on-search'],
        ['[search]\nfull_text_index = "on-delivery"\n', 'on-delivery'],
      ] as const) {
        const store = await openStore(parseConfig(toml, join(dir, 'letterbox.toml')));
        try {
          assert.equal(store.fullTextIndex, want);
        } finally {
          await store.close();
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('openStore: postgres', () => {
  let server: TestPostgres;
  let dir: string;
  before(async () => {
    server = await startPostgres();
    dir = await mkdtemp(join(tmpdir(), 'lb-open-'));
  });
  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('opens the database the config names, the password from its file', async () => {
    const url = await server.createDatabase();
    await writeFile(join(dir, 'pg.pass'), 'not-needed-with-trust\n');
    const cfg = parseConfig(
      `[store]\nkind = "postgres"\nurl = ${JSON.stringify(url)}\npassword_file = "pg.pass"\n`,
      join(dir, 'letterbox.toml'),
    );
    const store = await openStore(cfg);
    try {
      assert.equal(store.kind, 'postgres');
      await store.addDomain('example.test');
      assert.deepEqual(
        (await store.listDomains()).map((d) => d.name),
        ['example.test'],
      );
    } finally {
      await store.close();
      await server.dropDatabase(url);
    }
  });

  test('the PostgreSQL store takes the mode the config names', async () => {
    const url = await server.createDatabase();
    const toml = `[store]\nkind = "postgres"\nurl = ${JSON.stringify(url)}\n`;
    try {
      for (const [search, want] of [
        ['', 'on-search'],
        ['[search]\nfull_text_index = "on-delivery"\n', 'on-delivery'],
      ] as const) {
        const store = await openStore(parseConfig(toml + search, join(dir, 'letterbox.toml')));
        try {
          assert.equal(store.fullTextIndex, want);
        } finally {
          await store.close();
        }
      }
    } finally {
      await server.dropDatabase(url);
    }
  });

  test("an error of the PostgreSQL store's start catch-up (on-delivery) is told as the index's", async () => {
    const url = await server.createDatabase();
    const toml = `[store]\nkind = "postgres"\nurl = ${JSON.stringify(url)}\n[search]\nfull_text_index = "on-delivery"\n`;
    const cfg = parseConfig(toml, join(dir, 'letterbox.toml'));
    const sql = new pg.Client({ connectionString: url });
    try {
      await (await openStore(cfg)).close();
      // The marks' table gone: the start's look for mailboxes behind fails.
      await sql.connect();
      await sql.query('DROP TABLE text_marks');
      const errors: unknown[] = [];
      const store = await openStore(cfg, { onFtsError: (err) => errors.push(err) });
      try {
        await eventually(() => errors.length > 0, 'the catch-up error', 20_000);
        assert.match(String(errors[0]), /text_marks/);
      } finally {
        await store.close();
      }
    } finally {
      await sql.end();
      await server.dropDatabase(url);
    }
  });

  test('a password_env that is not set is an error naming the variable', async () => {
    const cfg = parseConfig(
      '[store]\nkind = "postgres"\nurl = "postgres://lb@127.0.0.1:1/mail"\npassword_env = "LB_TEST_NO_SUCH_VAR"\n',
      join(dir, 'letterbox.toml'),
    );
    await assert.rejects(openStore(cfg), /LB_TEST_NO_SUCH_VAR/);
  });
});
