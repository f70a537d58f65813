import type { Delivery, Settlement } from './run-job.ts';

/**
 * A message whose earlier deliveries ended unsettled `maxDeliveries` times is
 * taken for one that kills the worker (a crash cannot be caught, so nothing
 * else settles it): dead-letter it as `POISON_MESSAGE` without running it again.
 * On RabbitMQ the count is the suspect queue's, where a worker holds one
 * message at a time, so it is this message's own; cut connections and
 * shutdowns count too, so keep `maxDeliveries` above what those cause alone.
 */
export function poisonMessage(delivery: Delivery, maxDeliveries: number | undefined): Settlement | undefined {
  const count = delivery.deliveryCount;
  if (count === undefined || maxDeliveries === undefined || count < maxDeliveries) return undefined;
  return {
    outcome: 'dead-lettered',
    jobId: delivery.messageId,
    headers: {
      'x-error-code': 'POISON_MESSAGE',
      'x-error-message': `delivered ${count} times before without being settled (the worker died or lost its connection each time); not run again`,
      'x-attempts': delivery.attempt,
    },
  };
}
