// A text[] parameter sent in PostgreSQL's binary format (store/postgres/binary-array.ts) is
// read as the same array the driver's literal gives: elements, nulls, order, the empty array,
// letters outside ASCII, quotes, backslashes, braces and commas that the literal must escape.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { textArray } from '../../src/store/postgres/binary-array.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

let server: TestPostgres;
let url: string;
before(async () => {
  server = await startPostgres();
  url = await server.createDatabase();
});
after(async () => {
  await server?.dropDatabase(url);
  await server?.stop();
});

const cases: Array<Array<string | null>> = [
  [],
  [''],
  ['plain', 'two words'],
  [null],
  ['a', null, 'c', null],
  ['"quoted"', 'back\\slash', '{braces}', 'comma,separated', 'NULL', ' spaced '],
  ['Straße', 'ΟΔΟΣ', '日本語のテキスト', '😀 emoji', 'tab\tand\nnewline'],
  ['x'.repeat(70_000), 'ü'.repeat(20_000)],
];

test('a binary text[] parameter is the array the literal gives', async () => {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    for (const values of cases) {
      const r = await c.query<{ same: boolean; n: number | null; got: Array<string | null> }>(
        `SELECT $1::text[] IS NOT DISTINCT FROM $2::text[] AS same,
           cardinality($1::text[]) AS n, $1::text[] AS got`,
        [textArray(values), values],
      );
      const label = JSON.stringify(values).slice(0, 80);
      assert.equal(r.rows[0]!.same, true, label);
      assert.equal(r.rows[0]!.n, values.length, label);
      assert.deepEqual(r.rows[0]!.got, values, label);
    }
    // Each element in unnest's order, as the append group's statement reads them.
    const r = await c.query<{ v: string | null; n: string }>(
      'SELECT v, n FROM unnest($1::text[]) WITH ORDINALITY AS x(v, n)',
      [textArray(['first', null, 'third'])],
    );
    assert.deepEqual(
      r.rows.map((x) => [x.v, Number(x.n)]),
      [
        ['first', 1],
        [null, 2],
        ['third', 3],
      ],
    );
  } finally {
    await c.end();
  }
});

test('a lone surrogate is written as U+FFFD, as the driver writes a text parameter', async () => {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const values = ['cut \ud83d', '\ude00 here'];
    const r = await c.query<{ got: string[]; literal: string[] }>(
      'SELECT $1::text[] AS got, $2::text[] AS literal',
      [textArray(values), values],
    );
    assert.deepEqual(r.rows[0]!.got, r.rows[0]!.literal);
    assert.deepEqual(r.rows[0]!.got, ['cut \ufffd', '\ufffd here']);
  } finally {
    await c.end();
  }
});

test('elements given as UTF-8 bytes are the strings those bytes encode', async () => {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const values = ['Straße', null, '', '😀 emoji', 'ü'.repeat(20_000)];
    const mixed = values.map((v, i) => (v !== null && i % 2 === 0 ? Buffer.from(v, 'utf8') : v));
    const r = await c.query<{ got: Array<string | null> }>('SELECT $1::text[] AS got', [
      textArray(mixed),
    ]);
    assert.deepEqual(r.rows[0]!.got, values);
  } finally {
    await c.end();
  }
});
