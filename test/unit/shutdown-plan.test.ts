import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ShutdownPlan } from '#entries/shutdown-plan.ts';
import { MemoryLogger } from '#test/fakes/support.ts';

describe('ShutdownPlan', () => {
  it('runs the phases in order, whatever order the steps were added in, and a phase in the order its steps were added', async () => {
    const ran: string[] = [];
    const plan = new ShutdownPlan('worker', new MemoryLogger());
    const step = (name: string) => async () => void ran.push(name);
    plan.add('flush telemetry', 'telemetry', step('telemetry'));
    plan.add('close resources', 'store', step('store'));
    plan.add('close resources', 'database', step('database'));
    plan.add('drain', 'running jobs', step('running jobs'));
    plan.add('stop intake', 'consumer', step('consumer'));

    assert.equal(await plan.close('SIGTERM'), true);

    assert.deepEqual(ran, ['consumer', 'running jobs', 'store', 'database', 'telemetry']);
  });

  it('keeps going past a failed step, logs it with its phase, and reports the close as unclean', async () => {
    const ran: string[] = [];
    const log = new MemoryLogger();
    const plan = new ShutdownPlan('api', log);
    plan.add('stop intake', 'http', async () => {
      throw new Error('socket hang up');
    });
    plan.add('close resources', 'database', async () => void ran.push('database'));

    assert.equal(await plan.close('SIGINT'), false);

    assert.deepEqual(ran, ['database']);
    const failure = log.lines.find((line) => line.message === 'shutdown step failed');
    assert.deepEqual(failure?.context, { phase: 'stop intake', step: 'http', err: 'socket hang up' });
    assert.deepEqual(
      log.lines.filter((line) => line.message?.startsWith('api ')).map((line) => line.message),
      ['api stopping', 'api stopped'],
    );
  });

  it('runs once: a second close gets the same result and runs nothing again', async () => {
    let runs = 0;
    const plan = new ShutdownPlan('host', new MemoryLogger());
    plan.add('drain', 'running jobs', async () => void (runs += 1));

    const [first, second] = await Promise.all([plan.close('SIGTERM'), plan.close('SIGINT')]);

    assert.deepEqual([first, second, runs, plan.closing], [true, true, 1, true]);
  });
});
