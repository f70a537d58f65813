import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Slots } from '#adapters/slots.ts';

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('Slots', () => {
  it('lets `size` holders in at once and the next waiter in as each one leaves, in arrival order', async () => {
    const slots = new Slots(2);
    const signal = new AbortController().signal;
    const first = await slots.acquire(signal);
    await slots.acquire(signal);
    const entered: string[] = [];
    const third = slots.acquire(signal).then((release) => (entered.push('third'), release));
    const fourth = slots.acquire(signal).then((release) => (entered.push('fourth'), release));
    await turn();
    assert.deepEqual(entered, []);

    first();
    await turn();
    assert.deepEqual(entered, ['third']);
    (await third)();
    await fourth;
    assert.deepEqual(entered, ['third', 'fourth']);
  });

  it('frees a slot once however often its release is called', async () => {
    const slots = new Slots(1);
    const signal = new AbortController().signal;
    const release = await slots.acquire(signal);
    const waiting = [slots.acquire(signal), slots.acquire(signal)];
    let entered = 0;
    for (const waiter of waiting) void waiter.then(() => (entered += 1));
    release();
    release();
    await turn();
    assert.equal(entered, 1);
  });

  it("takes a waiter whose signal fires out of the line, with the signal's reason", async () => {
    const slots = new Slots(1);
    const release = await slots.acquire(new AbortController().signal);
    const leaving = new AbortController();
    const left = slots.acquire(leaving.signal);
    const next = slots.acquire(new AbortController().signal);
    leaving.abort(new Error('shutting down'));
    await assert.rejects(left, /shutting down/);

    release();
    (await next)();
    assert.equal(slots.idle, true);
  });

  it('refuses a signal that has already fired, and a size that is not a positive whole number', async () => {
    const aborted = new AbortController();
    aborted.abort(new Error('gone'));
    await assert.rejects(new Slots(1).acquire(aborted.signal), /gone/);
    assert.throws(() => new Slots(0), RangeError);
  });
});
