// Issue 17: when a mailbox's next append group goes (src/store/postgres/append-gather.ts). Times
// are given, not read: the clock's rule is checked without timers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GATHER_MAX_MS, GatherClock } from '../../src/store/postgres/append-gather.js';

test('the first group after a quiet moment goes at once', () => {
  const c = new GatherClock(64);
  assert.equal(c.readyAt(1, 1, 1000), 1000);
  // Its last turn ended longer ago than it took: quiet again.
  c.ended(1, 5, 0, 1000, 1010);
  assert.equal(c.readyAt(1, 1, 1021), 1021);
});

test('senders taking turns in two halves: the next group waits for the half answered last', () => {
  const c = new GatherClock(64);
  // A turn of 10 ms held 5 appends; 5 more queued behind it meanwhile.
  c.ended(7, 5, 5, 1000, 1010);
  // Those 5 wait, for at most half the turn, for the 5 just answered to come back.
  assert.equal(c.readyAt(7, 5, 1010), 1015);
  assert.equal(c.readyAt(7, 9, 1012), 1015);
  // All ten are there: at once.
  assert.equal(c.readyAt(7, 10, 1012), 1012);
  // Other mailboxes are not held by it.
  assert.equal(c.readyAt(8, 1, 1012), 1012);
});

test('the wait is at most GATHER_MAX_MS however long the turn took', () => {
  const c = new GatherClock(64);
  c.ended(1, 4, 4, 1000, 1100);
  assert.equal(c.readyAt(1, 4, 1100), 1100 + GATHER_MAX_MS);
});

test('one client appending one message after another never waits', () => {
  const c = new GatherClock(64);
  c.ended(3, 1, 0, 1000, 1004);
  assert.equal(c.readyAt(3, 1, 1005), 1005);
});

test('a steady queue never waits: a group that has all it waits for goes', () => {
  const c = new GatherClock(64);
  c.ended(2, 40, 30, 1000, 1020);
  // A full group (64) goes though 70 were seen; 63 wait.
  assert.equal(c.readyAt(2, 64, 1020), 1020);
  assert.equal(c.readyAt(2, 63, 1020), 1020 + GATHER_MAX_MS);
});
