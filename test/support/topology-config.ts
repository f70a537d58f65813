import type { TopologyConfig } from '#adapters/amqp/topology.ts';

/** The topology names of docs/architecture.md, with retry timing short enough for tests. */
export function topologyConfig(overrides: Partial<TopologyConfig> = {}): TopologyConfig {
  return {
    exchange: 'images',
    queue: 'images.q',
    dlx: 'images.dlx',
    dlq: 'images.dlx.q',
    routingKey: 'process_image',
    maxAttempts: 3,
    retryBaseMs: 50,
    retryMaxMs: 1_000,
    ...overrides,
  };
}
