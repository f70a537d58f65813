import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '#adapters/config.ts';
import { FsStore } from '#adapters/storage/fs-store.ts';
import { makeStore } from '#adapters/storage/make-store.ts';
import { TransientError } from '#functions/errors.ts';
import { aKey, aPayload, describeImageStore, type ImageStoreFixture } from '#test/conformance/describe-image-store.ts';
import { MemoryLogger } from '#test/fakes/support.ts';

async function makeFsFixture(): Promise<ImageStoreFixture> {
  const dir = await freshDir();
  const store = await FsStore.open(dir, new MemoryLogger());
  return {
    store,
    read: async (key) => {
      const data = await readFile(join(dir, key)).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
      return data && { data, contentType: undefined };
    },
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describeImageStore('FsStore', makeFsFixture, { conditionalWrites: true, keepsContentType: false });

const OUTPUT_NAME = /^[A-Za-z0-9_-]{1,128}\.jpg$/;
const MINUTE = 60_000;

describe('FsStore on a directory', () => {
  const dirs: string[] = [];
  const aDir = async () => {
    const dir = await freshDir();
    dirs.push(dir);
    return dir;
  };
  after(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('never reports a temp file left by a crashed write as the output, and writes the output over it', async () => {
    const dir = await aDir();
    const key = aKey();
    await writeFile(join(dir, tempName(key)), aPayload(1).subarray(0, 100));
    const store = await FsStore.open(dir, new MemoryLogger());

    const existsBefore = await store.exists(key);
    const outcome = await store.putIfAbsent(key, aPayload(2), 'image/jpeg');

    assert.equal(existsBefore, false);
    assert.equal(outcome, 'written');
    assert.deepEqual(await readFile(join(dir, key)), Buffer.from(aPayload(2)));
  });

  it('removes stale temp files on open and says so', async () => {
    const dir = await aDir();
    const stale = tempName(aKey());
    await writeFile(join(dir, stale), aPayload(1).subarray(0, 100));
    const anHourAgo = new Date(Date.now() - 60 * MINUTE);
    await utimes(join(dir, stale), anHourAgo, anHourAgo);
    const log = new MemoryLogger();

    await FsStore.open(dir, log);

    assert.deepEqual(await readdir(dir), []);
    assert.ok(log.lines.some((line) => line.message === 'removed stale temp file'));
  });

  it('leaves a fresh temp file alone: another writer on the volume may be using it', async () => {
    const dir = await aDir();
    const fresh = tempName(aKey());
    await writeFile(join(dir, fresh), aPayload(1).subarray(0, 100));

    await FsStore.open(dir, new MemoryLogger());

    assert.deepEqual(await readdir(dir), [fresh]);
  });

  it('removes at once a fresh temp file whose writer on this host is gone, and keeps a live writer\'s', async () => {
    const dir = await aDir();
    const exited = spawn(process.execPath, ['-e', '']);
    await once(exited, 'exit');
    const orphan = writerTempName(aKey(), exited.pid!);
    const live = writerTempName(aKey(), process.ppid);
    for (const name of [orphan, live]) await writeFile(join(dir, name), aPayload(1).subarray(0, 100));

    await FsStore.open(dir, new MemoryLogger());

    assert.deepEqual(await readdir(dir), [live]);
  });

  it('shows readers only <id>.jpg outputs and dot-prefixed temps while puts run, and only outputs after', async () => {
    const dir = await aDir();
    const store = await FsStore.open(dir, new MemoryLogger());
    const keys = Array.from({ length: 60 }, () => aKey());
    const seenWhileWriting = new Set<string>();
    let writing = true;

    const puts = Promise.all(keys.flatMap((key, index) => [
      store.putIfAbsent(key, aPayload(index), 'image/jpeg'),
      store.putIfAbsent(key, aPayload(index + 1), 'image/jpeg'),
    ])).finally(() => {
      writing = false;
    });
    while (writing) for (const name of await readdir(dir)) seenWhileWriting.add(name);
    await puts;

    const temps = [...seenWhileWriting].filter((name) => !OUTPUT_NAME.test(name));
    assert.ok(temps.length > 0, 'the listing caught writes in flight');
    for (const name of temps) assert.ok(name.startsWith('.') && !name.endsWith('.jpg'), `${name} cannot pass for an output`);
    const names = await readdir(dir);
    assert.deepEqual([...names].sort(), [...keys].sort());
  });

  it('puts <id>/<name>.<ext> in a directory of its own, its temp files in the top directory, none left after', async () => {
    const dir = await aDir();
    const store = await FsStore.open(dir, new MemoryLogger());
    const names = ['w320.webp', 'w640.webp', 'w1280.webp', 'sq.jpg', 'manifest.json'];
    const seenAtTop = new Set<string>();
    let writing = true;

    const puts = Promise.all(names.flatMap((name, index) => [
      store.putIfAbsent(`job-1/${name}`, aPayload(index), 'image/webp'),
      store.putIfAbsent(`job-1/${name}`, aPayload(index + 1), 'image/webp'),
    ])).finally(() => {
      writing = false;
    });
    while (writing) for (const name of await readdir(dir)) seenAtTop.add(name);
    const outcomes = await puts;

    assert.equal(outcomes.filter((outcome) => outcome === 'written').length, names.length);
    assert.deepEqual(await readdir(dir), ['job-1']);
    assert.deepEqual((await readdir(join(dir, 'job-1'))).sort(), [...names].sort());
    for (const name of [...seenAtTop].filter((entry) => entry !== 'job-1')) {
      assert.match(name, /^\.job-1~[\w-]+\.\w+\.[0-9a-f]{12}-\d+-[0-9a-f]{8}\.[0-9a-f]{16}\.tmp$/);
    }
  });

  it('sweeps a stale temp file of a nested key on open', async () => {
    const dir = await aDir();
    const stale = tempName('job-2/w640.webp');
    await writeFile(join(dir, stale), aPayload(1).subarray(0, 100));
    const anHourAgo = new Date(Date.now() - 60 * MINUTE);
    await utimes(join(dir, stale), anHourAgo, anHourAgo);

    await FsStore.open(dir, new MemoryLogger());

    assert.deepEqual(await readdir(dir), []);
  });

  it('opened read-only, as the api opens it, creates nothing, sweeps nothing and reads what a writer wrote', async () => {
    const dir = await aDir();
    const stale = tempName(aKey());
    await writeFile(join(dir, stale), aPayload(1).subarray(0, 100));
    const anHourAgo = new Date(Date.now() - 60 * MINUTE);
    await utimes(join(dir, stale), anHourAgo, anHourAgo);
    await (await FsStore.open(join(dir, 'elsewhere'), new MemoryLogger(), { readOnly: true })).read('1.jpg');
    const writer = await FsStore.open(dir, new MemoryLogger(), { staleTempMs: Number.POSITIVE_INFINITY });
    await writer.putIfAbsent('7.jpg', aPayload(2), 'image/jpeg');

    const reader = await FsStore.open(dir, new MemoryLogger(), { readOnly: true });

    assert.deepEqual((await readdir(dir)).sort(), [stale, '7.jpg'].sort(), 'no directory made, the stale temp left alone');
    assert.deepEqual(Buffer.from((await reader.read('7.jpg'))?.data ?? []), Buffer.from(aPayload(2)));
    assert.equal(await reader.read('8.jpg'), undefined);
  });

  it('creates a missing data directory on open', async () => {
    const dir = join(await aDir(), 'nested', 'data');
    const store = await FsStore.open(dir, new MemoryLogger());

    const outcome = await store.putIfAbsent('42.jpg', aPayload(1), 'image/jpeg');

    assert.equal(outcome, 'written');
    assert.equal(store.locate('42.jpg'), join(dir, '42.jpg'));
  });

  it('reports an I/O failure as a TransientError with a stable FS_ code', async () => {
    const dir = await aDir();
    const store = await FsStore.open(dir, new MemoryLogger());
    await rm(dir, { recursive: true });

    await assert.rejects(
      () => store.putIfAbsent('42.jpg', aPayload(1), 'image/jpeg'),
      (error) => error instanceof TransientError && error.code === 'FS_ENOENT',
    );
  });

  it('is what makeStore returns for STORAGE=fs, on DATA_DIR', async () => {
    const dir = await aDir();
    const config = loadConfig({ STORAGE: 'fs', DATA_DIR: dir }, 'worker');

    const store = await makeStore(config, new MemoryLogger());

    assert.ok(store instanceof FsStore);
    assert.equal(store.locate('7.jpg'), join(dir, '7.jpg'));
    await store.close();
  });
});

describe('FsStore on a file instead of a directory', () => {
  let file: string;
  before(async () => {
    file = join(await freshDir(), 'not-a-dir');
    await writeFile(file, 'x');
  });
  after(async () => {
    await rm(join(file, '..'), { recursive: true, force: true });
  });

  it('fails to open with a TransientError naming the path', async () => {
    await assert.rejects(
      () => FsStore.open(file, new MemoryLogger()),
      (error) => error instanceof TransientError && error.code.startsWith('FS_') && error.message.includes(file),
    );
  });
});

/** A temp file of a process on this host, named as FsStore names its own. */
function writerTempName(key: string, pid: number): string {
  const host = createHash('sha256').update(hostname()).digest('hex').slice(0, 12);
  return `.${key.replace('/', '~')}.${host}-${pid}-0badc0de.0123456789abcdef.tmp`;
}

/** The name FsStore gave its temp files before they named their writer: `.<key>.<16 hex>.tmp`, a key's `/` as `~`. */
function tempName(key: string): string {
  return `.${key.replace('/', '~')}.0123456789abcdef.tmp`;
}

function freshDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'imgpipe-fs-store-'));
}
