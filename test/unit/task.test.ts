import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '#functions/errors.ts';
import { deriveJobId } from '#functions/job.ts';
import { task } from '#functions/task.ts';
import { MemoryImagesRepo } from '#test/fakes/memory-images-repo.ts';
import { MemoryPublisher } from '#test/fakes/memory-publisher.ts';

const URL_OK = 'https://images.test/photos/cat.jpg';

/** A `/tasks` request body, as parsed from JSON. */
function taskBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { url: URL_OK, ops: ['thumbnail'], ...overrides };
}

describe('task', () => {
  it('publishes one job', async () => {
    const publisher = new MemoryPublisher();

    await task(taskBody({ id: 'cat' }), { publisher, jobs: new MemoryImagesRepo() });

    assert.deepEqual(publisher.published, [{ id: 'cat', url: URL_OK, ops: ['thumbnail'] }]);
  });

  it('derives the id from url and ops when absent, and returns it', async () => {
    const publisher = new MemoryPublisher();

    const result = await task(taskBody(), { publisher, jobs: new MemoryImagesRepo() });

    assert.equal(result.id, deriveJobId(URL_OK, ['thumbnail']));
    assert.match(result.id, /^t-/);
    assert.equal(publisher.published[0]?.id, result.id);
  });

  it('derives the same id for the same task sent twice', async () => {
    const publisher = new MemoryPublisher();

    const first = await task(taskBody(), { publisher, jobs: new MemoryImagesRepo() });
    const second = await task(taskBody({ ops: undefined }), { publisher, jobs: new MemoryImagesRepo() });

    assert.equal(first.id, second.id);
  });

  it('keeps a given id', async () => {
    const publisher = new MemoryPublisher();

    const result = await task(taskBody({ id: 'order-17_large' }), { publisher, jobs: new MemoryImagesRepo() });

    assert.deepEqual(result, { id: 'order-17_large' });
    assert.equal(publisher.published[0]?.id, 'order-17_large');
  });

  const invalid: Array<[string, Record<string, unknown>, string]> = [
    ['a file URL', taskBody({ url: 'file:///etc/passwd' }), 'url'],
    ['an unknown op', taskBody({ ops: ['thumbnail', 'sepia'] }), 'ops[1]'],
    ['an id with a path', taskBody({ id: '../x' }), 'id'],
  ];
  for (const [what, body, field] of invalid) {
    it(`refuses ${what} before anything is published`, async () => {
      const publisher = new MemoryPublisher();

      await assert.rejects(task(body, { publisher, jobs: new MemoryImagesRepo() }), (error: unknown) => {
        assert.ok(error instanceof InvalidInputError);
        assert.equal(error.field, field);
        return true;
      });
      assert.equal(publisher.published.length, 0);
    });
  }

  it('records the job as queued before it publishes it', async () => {
    const jobs = new MemoryImagesRepo();
    const seenAtPublish: unknown[] = [];
    const publisher = new (class extends MemoryPublisher {
      override async publish(published: Parameters<MemoryPublisher['publish']>[0]): Promise<void> {
        seenAtPublish.push(jobs.jobs.get('cat')?.state);
        await super.publish(published);
      }
    })();

    await task(taskBody({ id: 'cat' }), { publisher, jobs });

    assert.deepEqual(seenAtPublish, ['queued']);
    const record = await jobs.findJob('cat');
    assert.equal(record?.url, URL_OK);
    assert.equal(record?.attempts, 0);
  });

  it('publishes nothing when the record cannot be written', async () => {
    const publisher = new MemoryPublisher();
    const jobs = new MemoryImagesRepo();
    jobs.down = true;

    await assert.rejects(task(taskBody(), { publisher, jobs }), { name: 'TransientError', code: 'DATABASE_UNAVAILABLE' });
    assert.equal(publisher.published.length, 0);
  });

  it('rethrows the publisher refusal as a TransientError', async () => {
    const publisher = new MemoryPublisher();
    publisher.refuse = true;

    await assert.rejects(task(taskBody(), { publisher, jobs: new MemoryImagesRepo() }), { name: 'TransientError' });
  });
});
