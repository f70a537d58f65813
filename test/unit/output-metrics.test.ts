import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { OutputMetrics } from '#adapters/jobs/output-metrics.ts';
import type { OutputResult } from '#functions/process-image.ts';

function output(format: OutputResult['format'], outcome: OutputResult['outcome'] = 'written'): OutputResult {
  return { name: `o-${format}`, key: `1/o-${format}.x`, format, width: 1, height: 1, bytes: 1, outcome };
}

async function counts(registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('imgpipe_outputs_total')!.get();
  return Object.fromEntries(metric.values.map((value) => [String(value.labels.format), value.value]));
}

describe('OutputMetrics', () => {
  it('shows every format at zero before any job', async () => {
    const registry = new Registry();
    new OutputMetrics(registry);

    assert.deepEqual(await counts(registry), { jpeg: 0, webp: 0, avif: 0, png: 0 });
  });

  it('counts written outputs by format, and not those another worker had written first', async () => {
    const registry = new Registry();
    const metrics = new OutputMetrics(registry);

    metrics.record({ outputs: [output('webp'), output('webp'), output('jpeg'), output('avif', 'exists')] });
    metrics.record({ outputs: [] });
    metrics.record({});

    assert.deepEqual(await counts(registry), { jpeg: 1, webp: 2, avif: 0, png: 0 });
  });
});
