// FileBlobStore.read: small blobs read at once, large ones with their known size in one read;
// a size that does not match the file still gives the whole file, a missing blob NOT_FOUND.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FileBlobStore, SYNC_READ_MAX, sha256 } from '../../src/store/blobs/file-blobs.js';
import { isStoreError } from '../../src/store/errors.js';

let dir: string;
let blobs: FileBlobStore;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lb-blobs-'));
  blobs = new FileBlobStore(dir);
  await blobs.init();
});
after(() => rm(dir, { recursive: true, force: true }));

async function stored(size: number): Promise<{ hash: string; data: Buffer }> {
  const data = randomBytes(size);
  const hash = sha256(data);
  await blobs.put(hash, data);
  return { hash, data };
}

test('a large blob read with its size is exactly its bytes', async () => {
  const { hash, data } = await stored(SYNC_READ_MAX * 3 + 17);
  assert.ok((await blobs.read(hash, data.length)).equals(data));
  assert.ok((await blobs.read(hash)).equals(data));
});

test('a size that does not match the file still reads the whole file', async () => {
  const { hash, data } = await stored(SYNC_READ_MAX * 2);
  for (const size of [data.length - 1, data.length + 1, SYNC_READ_MAX + 1, data.length * 2]) {
    assert.ok((await blobs.read(hash, size)).equals(data), `size ${size}`);
  }
});

test('a small blob is read whole', async () => {
  const { hash, data } = await stored(1000);
  assert.ok((await blobs.read(hash, data.length)).equals(data));
});

test('a missing blob is NOT_FOUND, whatever its size', async () => {
  const hash = sha256(Buffer.from('never stored'));
  for (const size of [undefined, 10, SYNC_READ_MAX * 4]) {
    await assert.rejects(blobs.read(hash, size), (e) => isStoreError(e, 'NOT_FOUND'));
  }
});
