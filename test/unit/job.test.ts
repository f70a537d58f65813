import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '#functions/errors.ts';
import {
  assertJobId,
  deriveJobId,
  JOB_ID_PATTERN,
  MAX_URL_LENGTH,
  parseJob,
  thumbnailKey,
} from '#functions/job.ts';
import type { Op } from '#functions/ops.ts';

const URL_OK = 'https://images.test/seed/42/1024/768';

/** A request or message body, as parsed from JSON. */
function bodyOf(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: '42', url: URL_OK, ops: ['thumbnail'], ...overrides };
}

/** An http(s) URL of exactly `length` characters. */
function urlOfLength(length: number): string {
  const prefix = 'https://images.test/';
  return prefix + 'a'.repeat(length - prefix.length);
}

function refusedNaming(field: string) {
  return (error: unknown) => {
    assert.ok(error instanceof InvalidInputError, `expected InvalidInputError, got ${String(error)}`);
    assert.equal(error.field, field);
    assert.equal(error.code, 'INVALID_INPUT');
    assert.ok(error.message.startsWith(`${field}: `), error.message);
    return true;
  };
}

describe('job id', () => {
  const refused: Array<[string, unknown]> = [
    ['a path escape', '../etc/passwd'],
    ['a slash', 'a/b'],
    ['a dot', 'a.b'],
    ['an empty string', ''],
    ['129 characters', 'x'.repeat(129)],
    ['a number', 42],
    ['null', null],
  ];
  for (const [what, id] of refused) {
    it(`refuses ${what}, naming id`, () => {
      assert.throws(() => parseJob(bodyOf({ id })), refusedNaming('id'));
    });
  }

  it('accepts 128 characters of letters, digits, "_" and "-"', () => {
    const id = `${'aZ09_-'.repeat(21)}ab`;
    assert.equal(id.length, 128);

    assert.equal(parseJob(bodyOf({ id })).id, id);
  });

  it('names the field it was given when validating on its own', () => {
    assert.throws(() => assertJobId('a.b', 'key'), refusedNaming('key'));
  });
});

describe('job url', () => {
  const refused: Array<[string, unknown]> = [
    ['ftp', 'ftp://images.test/a.jpg'],
    ['file', 'file:///etc/passwd'],
    ['javascript', 'javascript:alert(1)'],
    ['a relative URL', '/images/a.jpg'],
    ['an empty string', ''],
    ['a non-string', 42],
    ['a URL of 2049 characters', urlOfLength(MAX_URL_LENGTH + 1)],
  ];
  for (const [what, url] of refused) {
    it(`refuses ${what}, naming url`, () => {
      assert.throws(() => parseJob(bodyOf({ url })), refusedNaming('url'));
    });
  }

  it('accepts http and https URLs of up to 2048 characters', () => {
    const longest = urlOfLength(MAX_URL_LENGTH);
    assert.equal(longest.length, 2048);

    assert.equal(parseJob(bodyOf({ url: longest })).url, longest);
    assert.equal(parseJob(bodyOf({ url: 'http://images.test/a.jpg' })).url, 'http://images.test/a.jpg');
  });
});

describe('job ops', () => {
  it('refuses an unknown op, naming its position', () => {
    assert.throws(() => parseJob(bodyOf({ ops: ['thumbnail', 'sepia'] })), refusedNaming('ops[1]'));
  });

  it('refuses an empty list and a non-list', () => {
    assert.throws(() => parseJob(bodyOf({ ops: [] })), refusedNaming('ops'));
    assert.throws(() => parseJob(bodyOf({ ops: 'thumbnail' })), refusedNaming('ops'));
  });

  it('defaults to thumbnail when absent', () => {
    assert.deepEqual(parseJob(bodyOf({ ops: undefined })).ops, ['thumbnail']);
  });

  it('collapses duplicates', () => {
    assert.deepEqual(parseJob(bodyOf({ ops: ['thumbnail', 'thumbnail'] })).ops, ['thumbnail']);
  });
});

describe('job body', () => {
  it('refuses a body that is not an object, naming body', () => {
    for (const body of [null, 'x', [bodyOf()], 7]) {
      assert.throws(() => parseJob(body), refusedNaming('body'));
    }
  });

  it('returns a frozen job with only id, url and ops', () => {
    const job = parseJob(bodyOf({ extra: 'ignored' }));

    assert.deepEqual(job, { id: '42', url: URL_OK, ops: ['thumbnail'] });
    assert.ok(Object.isFrozen(job));
    assert.ok(Object.isFrozen(job.ops));
  });
});

describe('derived job ids', () => {
  it('derives the same id for the same url and ops', () => {
    const first = parseJob({ url: URL_OK });
    const second = parseJob({ url: URL_OK, ops: ['thumbnail', 'thumbnail'] });

    assert.equal(first.id, second.id);
    assert.equal(first.id, deriveJobId(URL_OK, ['thumbnail']));
  });

  it('does not depend on the order of the ops', () => {
    // Only `thumbnail` is known today; the canonical form must not change once there are more.
    const ops = ['thumbnail', 'watermark'] as unknown as Op[];

    assert.equal(deriveJobId(URL_OK, ops), deriveJobId(URL_OK, [...ops].reverse()));
  });

  it('derives different ids for different urls', () => {
    assert.notEqual(deriveJobId(URL_OK, ['thumbnail']), deriveJobId(`${URL_OK}?v=2`, ['thumbnail']));
  });

  it('derives valid job ids that never collide across a few thousand urls', () => {
    const ids = new Set<string>();
    for (let n = 0; n < 5000; n += 1) {
      const id = deriveJobId(`https://images.test/seed/${n}/1024/768`, ['thumbnail']);
      assert.match(id, JOB_ID_PATTERN);
      ids.add(id);
    }

    assert.equal(ids.size, 5000);
  });

  it('keeps a given id instead of deriving one', () => {
    assert.equal(parseJob(bodyOf({ id: 'mine' })).id, 'mine');
  });
});

describe('thumbnailKey', () => {
  it('is <id>.jpg', () => {
    assert.equal(thumbnailKey('42'), '42.jpg');
    assert.equal(thumbnailKey('t-abc_DEF'), 't-abc_DEF.jpg');
  });

  it('refuses an id that is not a job id', () => {
    assert.throws(() => thumbnailKey('../42'), refusedNaming('id'));
  });
});
