import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { healthz } from '#functions/healthz.ts';
import type { DependencyCheck } from '#functions/ports.ts';

/** A dependency that answers, or fails with `failure`, and counts its checks. */
class FakeDependency implements DependencyCheck {
  checks = 0;
  constructor(readonly name: string, private readonly failure?: Error) {}
  async check(): Promise<void> {
    this.checks += 1;
    if (this.failure) throw this.failure;
  }
}

/** A dependency that does not answer until released (its timer keeps the test process alive meanwhile). */
class HungDependency implements DependencyCheck {
  private timer: NodeJS.Timeout | undefined;
  constructor(readonly name: string) {}
  check(): Promise<void> {
    return new Promise((resolve) => {
      this.timer = setTimeout(resolve, 30_000);
    });
  }
  release(): void {
    clearTimeout(this.timer);
  }
}

describe('healthz', () => {
  it('answers ok for liveness without checking any dependency', async () => {
    const database = new FakeDependency('database', new Error('database is down'));

    const report = await healthz({ probe: 'live' }, { dependencies: [database] });

    assert.deepEqual(report, { ok: true });
    assert.equal(database.checks, 0);
  });

  it('is ready when every dependency answers', async () => {
    const dependencies = [new FakeDependency('database'), new FakeDependency('broker')];

    const report = await healthz({ probe: 'ready' }, { dependencies });

    assert.deepEqual(report, { ok: true, checks: { database: 'up', broker: 'up' } });
  });

  it('checks readiness when no probe is named', async () => {
    const broker = new FakeDependency('broker', new Error('broker is down'));

    const report = await healthz({}, { dependencies: [broker] });

    assert.equal(report.ok, false);
    assert.equal(broker.checks, 1);
  });

  it('names the dependency that is down, and why', async () => {
    const dependencies = [
      new FakeDependency('database'),
      new FakeDependency('broker', new Error('connect ECONNREFUSED amqp://guest:secret@127.0.0.1:5672')),
    ];

    const report = await healthz({ probe: 'ready' }, { dependencies });

    assert.equal(report.ok, false);
    assert.equal(report.checks?.database, 'up');
    assert.match(report.checks?.broker ?? '', /^down: connect ECONNREFUSED/);
    assert.doesNotMatch(report.checks?.broker ?? '', /secret/);
  });

  it('counts a hung check as down after timeoutMs, and returns', async () => {
    const database = new HungDependency('database');
    const broker = new FakeDependency('broker');
    const started = performance.now();
    try {
      const report = await healthz({ probe: 'ready' }, { dependencies: [database, broker], timeoutMs: 50 });

      const elapsed = performance.now() - started;
      assert.equal(report.ok, false);
      assert.deepEqual(report.checks, { database: 'down: no answer within 50 ms', broker: 'up' });
      assert.ok(elapsed >= 45 && elapsed < 2_000, `took ${elapsed} ms`);
    } finally {
      database.release();
    }
  });
});
