import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { sampleDiskCache } from '#adapters/samples/sample-disk-cache.ts';

describe('sampleDiskCache', () => {
  const roots: string[] = [];
  const freshRoot = async () => {
    const root = await mkdtemp(join(tmpdir(), 'imgpipe-sample-cache-'));
    roots.push(root);
    return root;
  };
  after(async () => {
    for (const root of roots) await rm(root, { recursive: true, force: true });
  });

  it('gives back what another instance stored, and nothing for a name never stored', async () => {
    const root = await freshRoot();
    await sampleDiskCache(root).write('7-1024x768.jpg', Buffer.from('jpeg bytes'));
    const other = sampleDiskCache(root);
    assert.deepEqual(await other.read('7-1024x768.jpg'), Buffer.from('jpeg bytes'));
    assert.equal(await other.read('8-1024x768.jpg'), undefined);
  });

  it('leaves no temp file behind', async () => {
    const root = await freshRoot();
    await sampleDiskCache(root).write('1-10x10.jpg', Buffer.from('x'));
    const [userDir] = await readdir(root);
    const [versionDir] = await readdir(join(root, userDir!));
    assert.deepEqual(await readdir(join(root, userDir!, versionDir!)), ['1-10x10.jpg']);
  });

  it('refuses a cache directory that others may write to', async () => {
    const root = await freshRoot();
    await sampleDiskCache(root).write('1-10x10.jpg', Buffer.from('x'));
    const [userDir] = await readdir(root);
    await chmod(join(root, userDir!), 0o777);
    assert.equal(await sampleDiskCache(root).read('1-10x10.jpg'), undefined);
  });
});
