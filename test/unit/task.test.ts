import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '#functions/errors.ts';
import { deriveJobId } from '#functions/job.ts';
import { task } from '#functions/task.ts';
import { MemoryPublisher } from '#test/fakes/memory-publisher.ts';

const URL_OK = 'https://images.test/photos/cat.jpg';

/** A `/tasks` request body, as parsed from JSON. */
function taskBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { url: URL_OK, ops: ['thumbnail'], ...overrides };
}

describe('task', () => {
  it('publishes one job', async () => {
    const publisher = new MemoryPublisher();

    await task(taskBody({ id: 'cat' }), { publisher });

    assert.deepEqual(publisher.published, [{ id: 'cat', url: URL_OK, ops: ['thumbnail'] }]);
  });

  it('derives the id from url and ops when absent, and returns it', async () => {
    const publisher = new MemoryPublisher();

    const result = await task(taskBody(), { publisher });

    assert.equal(result.id, deriveJobId(URL_OK, ['thumbnail']));
    assert.match(result.id, /^t-/);
    assert.equal(publisher.published[0]?.id, result.id);
  });

  it('derives the same id for the same task sent twice', async () => {
    const publisher = new MemoryPublisher();

    const first = await task(taskBody(), { publisher });
    const second = await task(taskBody({ ops: undefined }), { publisher });

    assert.equal(first.id, second.id);
  });

  it('keeps a given id', async () => {
    const publisher = new MemoryPublisher();

    const result = await task(taskBody({ id: 'order-17_large' }), { publisher });

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

      await assert.rejects(task(body, { publisher }), (error: unknown) => {
        assert.ok(error instanceof InvalidInputError);
        assert.equal(error.field, field);
        return true;
      });
      assert.equal(publisher.published.length, 0);
    });
  }

  it('rethrows the publisher refusal as a TransientError', async () => {
    const publisher = new MemoryPublisher();
    publisher.refuse = true;

    await assert.rejects(task(taskBody(), { publisher }), { name: 'TransientError' });
  });
});
