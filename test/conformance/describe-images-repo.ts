import assert from 'node:assert/strict';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { afterEach, describe, it } from 'node:test';
import { errorKind, TransientError } from '#functions/errors.ts';
import type { FailureReason, ImagesRepo, PendingImage } from '#functions/ports.ts';
import { ENQUEUE_BATCH_ROWS } from '#adapters/db/sql-images-repo.ts';

/** More rows than two of the SQL repos' statements take, so `publish` gets several batches there. */
const MANY_ROWS = 2 * ENQUEUE_BATCH_ROWS + 3;

/** What the backend holds for one row, read by its own means (SQL, the fake's map). */
export interface StoredRow {
  readonly url: string;
  readonly processed: boolean;
  readonly enqueued: boolean;
  /** Set once the row was marked failed, until it is marked processed. */
  readonly failure: FailureReason | undefined;
}

export interface ImagesRepoFixture {
  readonly repo: ImagesRepo;
  row(id: string): Promise<StoredRow | undefined>;
  /** A repo of the same kind whose database cannot be reached (a closed port, a closed database). */
  unreachable(): Promise<ImagesRepo>;
  /** Closes what the fixture opened. */
  cleanup(): Promise<void>;
}

/**
 * The {@link ImagesRepo} contract (functions/ports.ts) as node:test cases, run
 * against every implementation, the in-memory fake included. Each case gets a
 * fixture whose table holds exactly `seed`, every row pending.
 *
 * @example
 * describeImagesRepo('PgImagesRepo', async (seed) => ({ repo, row, unreachable, cleanup }));
 */
export function describeImagesRepo(name: string, makeFixture: (seed: readonly PendingImage[]) => Promise<ImagesRepoFixture>): void {
  describe(`ImagesRepo conformance: ${name}`, () => {
    let fixture: ImagesRepoFixture | undefined;
    const open = async (count: number) => {
      fixture = await makeFixture(seedRows(count));
      return fixture;
    };

    afterEach(async () => {
      await fixture?.cleanup();
      fixture = undefined;
    });

    describe('enqueuePending', () => {
      it('hands pending rows to publish in numeric id order, bounded by the limit, and marks them enqueued', async () => {
        const { repo, row } = await open(12);
        const { batches, publish } = recordingPublish();

        const enqueued = await repo.enqueuePending(10, publish);

        assert.equal(enqueued, 10);
        assert.deepEqual(batches, [ids(1, 10).map(seedRow)]);
        assert.equal((await row('10'))?.enqueued, true);
        assert.equal((await row('11'))?.enqueued, false);
      });

      it('never hands out an enqueued row again, and returns 0 once nothing is pending', async () => {
        const { repo } = await open(5);
        const calls = [recordingPublish(), recordingPublish(), recordingPublish()];

        const counts = [];
        for (const call of calls) counts.push(await repo.enqueuePending(3, call.publish));

        assert.deepEqual(counts, [3, 2, 0]);
        assert.deepEqual(calls.map((call) => call.batches.flat().map((image) => image.id)), [['1', '2', '3'], ['4', '5'], []]);
      });

      it('skips processed and failed rows', async () => {
        const { repo } = await open(6);
        await repo.markProcessed(seedRow(1));
        await repo.markFailed(seedRow(2), { code: 'HTTP_404', message: 'gone' });
        const { batches, publish } = recordingPublish();

        await repo.enqueuePending(2, publish);

        assert.deepEqual(batches, [[seedRow(3), seedRow(4)]]);
      });

      it('leaves the rows pending and rethrows the same error when publish fails', async () => {
        const { repo, row } = await open(6);
        const refused = new TransientError('PUBLISH_REFUSED', 'the broker refused the messages');

        await assert.rejects(
          repo.enqueuePending(4, async () => {
            throw refused;
          }),
          (error) => error === refused,
        );

        assert.equal((await row('1'))?.enqueued, false);
        const { batches, publish } = recordingPublish();
        assert.equal(await repo.enqueuePending(4, publish), 4);
        assert.deepEqual(batches, [ids(1, 4).map(seedRow)]);
      });

      it('hands more rows than one statement takes in id order, each row once, and marks every one enqueued', async () => {
        const { repo, row } = await open(MANY_ROWS + 1);
        const { batches, publish } = recordingPublish();

        const enqueued = await repo.enqueuePending(MANY_ROWS, publish);

        assert.equal(enqueued, MANY_ROWS);
        assert.deepEqual(batches.flat(), ids(1, MANY_ROWS).map(seedRow));
        assert.equal((await row('1'))?.enqueued, true);
        assert.equal((await row(String(MANY_ROWS)))?.enqueued, true);
        assert.equal((await row(String(MANY_ROWS + 1)))?.enqueued, false);
      });

      it('leaves every row pending and rethrows the same error when a later batch is refused', async () => {
        const { repo, row } = await open(MANY_ROWS);
        const refused = new TransientError('PUBLISH_REFUSED', 'the broker refused the messages');
        const last = String(MANY_ROWS);

        await assert.rejects(
          repo.enqueuePending(MANY_ROWS, async (rows) => {
            if (rows.some((image) => image.id === last)) throw refused;
          }),
          (error) => error === refused,
        );

        assert.equal((await row('1'))?.enqueued, false);
        assert.equal((await row(last))?.enqueued, false);
        const { batches, publish } = recordingPublish();
        assert.equal(await repo.enqueuePending(MANY_ROWS, publish), MANY_ROWS);
        assert.deepEqual(batches.flat(), ids(1, MANY_ROWS).map(seedRow));
      });

      it('never gives one row to two concurrent callers', async () => {
        const { repo, row } = await open(50);
        const seen: PendingImage[][] = [];
        // Each publish yields to the event loop a few times, so the callers' transactions overlap.
        const publish = async (rows: readonly PendingImage[]) => {
          seen.push([...rows]);
          for (let turn = 0; turn < 5; turn += 1) await yieldToLoop();
        };

        const counts = await Promise.all(Array.from({ length: 8 }, () => repo.enqueuePending(7, publish)));

        const picked = seen.flat().map((image) => Number(image.id)).sort((a, b) => a - b);
        assert.deepEqual(picked, ids(1, 50).map(Number), 'every row picked exactly once');
        assert.equal(counts.reduce((sum, count) => sum + count, 0), 50);
        for (const batch of seen) {
          const batchIds = batch.map((image) => Number(image.id));
          assert.deepEqual(batchIds, [...batchIds].sort((a, b) => a - b), 'each batch in id order');
        }
        assert.equal((await row('50'))?.enqueued, true);
      });
    });

    describe('markProcessed and markFailed', () => {
      it('mark the row with the job id processed, whatever URL the job carries', async () => {
        const { repo, row } = await open(8);

        await repo.markProcessed({ id: '7', url: seedUrl(8) });

        assert.equal((await row('7'))?.processed, true);
        assert.equal((await row('8'))?.processed, false);
      });

      it('mark the row with the job id failed, with the reason, whatever URL the job carries', async () => {
        const { repo, row } = await open(9);
        const reason = { code: 'NOT_AN_IMAGE', message: 'GET images.test/9 answered text/html' };

        await repo.markFailed({ id: '9', url: 'https://elsewhere.test/9.jpg' }, reason);

        assert.deepEqual(await row('9'), { url: seedUrl(9), processed: false, enqueued: false, failure: reason });
      });

      it('touch no row for a failure that will be retried (final false)', async () => {
        const { repo, row } = await open(4);

        await repo.markFailed(seedRow(4), { code: 'TIMEOUT', message: 'slow' }, 2, false);

        assert.deepEqual(await row('4'), { url: seedUrl(4), processed: false, enqueued: false, failure: undefined });
      });

      it('match nothing, without error, for ids that cannot name a row (task ids, padded, out of range)', async () => {
        const { repo, row } = await open(7);

        for (const id of ['t-abc', '07', '0', '-1', '99999999999', '7.0', ' 7']) {
          await repo.markProcessed({ id, url: seedUrl(7) });
          await repo.markFailed({ id, url: seedUrl(7) }, { code: 'X', message: 'x' });
        }

        for (const id of ids(1, 7)) {
          assert.deepEqual(await row(id), { url: seedUrl(Number(id)), processed: false, enqueued: false, failure: undefined });
        }
      });

      it('clear an earlier failure when the row is processed (a replayed dead letter)', async () => {
        const { repo, row } = await open(3);
        await repo.markFailed(seedRow(3), { code: 'TIMEOUT', message: 'slow' });

        await repo.markProcessed(seedRow(3));

        assert.deepEqual(await row('3'), { url: seedUrl(3), processed: true, enqueued: false, failure: undefined });
      });
    });

    describe('ping and an unreachable database', () => {
      it('answers ping while the database is reachable', async () => {
        const { repo } = await open(1);

        await repo.ping();
      });

      it('fails every call with a transient DATABASE_UNAVAILABLE, before publish is called', async () => {
        const repo = await (await open(1)).unreachable();
        const isUnavailable = (error: unknown) =>
          error instanceof TransientError && error.code === 'DATABASE_UNAVAILABLE' && errorKind(error) === 'transient';
        let published = false;

        await assert.rejects(repo.ping(), isUnavailable);
        await assert.rejects(
          repo.enqueuePending(5, async () => {
            published = true;
          }),
          isUnavailable,
        );
        await assert.rejects(repo.markProcessed(seedRow(1)), isUnavailable);
        await assert.rejects(repo.markFailed(seedRow(1), { code: 'X', message: 'x' }), isUnavailable);
        assert.equal(published, false);
      });
    });
  });
}

/** `https://images.test/<n>.jpg`: the URL of seed row `n`. */
export function seedUrl(n: number): string {
  return `https://images.test/${n}.jpg`;
}

export function seedRow(n: number | string): PendingImage {
  return { id: String(n), url: seedUrl(Number(n)) };
}

/** Rows 1..count, as a fixture's table must hold them. */
function seedRows(count: number): PendingImage[] {
  return ids(1, count).map(seedRow);
}

function ids(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, index) => String(from + index));
}

/** A publish that records every batch it was given. */
function recordingPublish() {
  const batches: PendingImage[][] = [];
  const publish = async (rows: readonly PendingImage[]) => {
    batches.push([...rows]);
  };
  return { batches, publish };
}
