// date-time with its zone (APPEND's INTERNALDATE): the instant, and the zone kept for FETCH and
// for the day SEARCH BEFORE / ON / SINCE compare.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDateTime, parseZonedDateTimeText } from '../../../src/imap/wire/dates.js';

const table: [string, string, number][] = [
  ['25-Mar-2007 00:00:00 +0200', '2007-03-24T22:00:00.000Z', 120],
  ['25-Mar-2007 21:00:00 -0500', '2007-03-26T02:00:00.000Z', -300],
  [' 5-Jan-2020 10:00:00 +0000', '2020-01-05T10:00:00.000Z', 0],
  ['01-Jul-1996 02:44:25 +0545', '1996-06-30T20:59:25.000Z', 345],
  ['31-Dec-1999 23:59:59 -2359', '2000-01-01T23:58:59.000Z', -1439],
];

for (const [text, iso, zone] of table) {
  test(text, () => {
    const r = parseZonedDateTimeText(text);
    assert.ok(r);
    assert.equal(r.date.toISOString(), iso);
    assert.equal(r.zone, zone);
    // Written back in its own zone, it reads as it came (day padded with a space).
    assert.equal(formatDateTime(r.date, r.zone), text.replace(/^0/, ' '));
  });
}

test('bad date-times', () => {
  for (const bad of [
    '25-Mar-2007 00:00:00',
    '25-Mar-2007 00:00:00 +0260',
    '32-Mar-2007 00:00:00 +0000',
  ]) {
    assert.equal(parseZonedDateTimeText(bad), null, bad);
  }
});
