import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  errorCode,
  errorKind,
  errorSummary,
  InvalidInputError,
  PermanentError,
  TransientError,
} from '#functions/errors.ts';

/** An error as it arrives after bundling or from another copy of the module: same name, other class. */
function foreignError(name: string, code: string, message = 'from elsewhere'): Error {
  return Object.assign(new Error(message), { name, code });
}

describe('errorKind', () => {
  it('classifies our three classes', () => {
    assert.equal(errorKind(new InvalidInputError('url', 'must use http or https')), 'invalid');
    assert.equal(errorKind(new PermanentError('HTTP_404', 'gone')), 'permanent');
    assert.equal(errorKind(new TransientError('TIMEOUT', 'slow')), 'transient');
  });

  it('classifies by name, not by class', () => {
    assert.equal(errorKind(foreignError('PermanentError', 'HTTP_404')), 'permanent');
    assert.equal(errorKind(foreignError('InvalidInputError', 'INVALID_INPUT')), 'invalid');
  });

  it('treats anything else as transient', () => {
    assert.equal(errorKind(new Error('boom')), 'transient');
    assert.equal(errorKind(new TypeError('PermanentError')), 'transient');
    assert.equal(errorKind({ name: 'PermanentError', code: 'HTTP_404' }), 'transient');
    assert.equal(errorKind('PermanentError'), 'transient');
    assert.equal(errorKind(undefined), 'transient');
  });

  it('keeps the cause', () => {
    const cause = new Error('socket hang up');

    assert.equal(new TransientError('NETWORK', 'reset', { cause }).cause, cause);
  });
});

describe('errorCode', () => {
  it('is the code of our errors, by class or by name', () => {
    assert.equal(errorCode(new PermanentError('NOT_AN_IMAGE', 'html')), 'NOT_AN_IMAGE');
    assert.equal(errorCode(new InvalidInputError('ops[1]', 'unknown operation')), 'INVALID_INPUT');
    assert.equal(errorCode(foreignError('TransientError', 'TIMEOUT')), 'TIMEOUT');
  });

  it('is UNEXPECTED for errors we did not make, even with a code', () => {
    assert.equal(errorCode(Object.assign(new Error('reset'), { code: 'ECONNRESET' })), 'UNEXPECTED');
    assert.equal(errorCode(new Error('boom')), 'UNEXPECTED');
    assert.equal(errorCode('HTTP_404'), 'UNEXPECTED');
  });
});

describe('errorSummary', () => {
  it('is one line', () => {
    const summary = errorSummary(new Error('first line\n  second line\r\n\tthird'));

    assert.equal(summary, 'first line second line third');
  });

  it('is bounded, ending with an ellipsis when cut', () => {
    const long = errorSummary(new Error('x'.repeat(2000)));
    const short = errorSummary(new Error('y'.repeat(300)), 100);

    assert.equal(long.length, 500);
    assert.ok(long.endsWith('…'));
    assert.equal(short.length, 100);
    assert.equal(errorSummary(new Error('fits'), 100), 'fits');
  });

  it('strips credentials from URLs', () => {
    const summary = errorSummary(
      new Error('connect ECONNREFUSED amqp://guest:s3cret@rabbitmq:5672/ and postgres://app:pa55@db/images'),
    );

    assert.equal(summary, 'connect ECONNREFUSED amqp://***@rabbitmq:5672/ and postgres://***@db/images');
  });

  it('summarises values that are not errors', () => {
    assert.equal(errorSummary('plain text'), 'plain text');
    assert.equal(errorSummary(404), '404');
  });
});
