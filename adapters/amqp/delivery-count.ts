import type { MessagePropertyHeaders } from 'amqplib';

/**
 * The quorum queue's `x-delivery-count`: how many earlier deliveries of this
 * message ended unsettled (0 on a first delivery). Undefined when absent, as
 * on a classic queue, which does not count.
 */
export function deliveryCountOf(headers: MessagePropertyHeaders | undefined): number | undefined {
  const raw: unknown = headers?.['x-delivery-count'];
  return typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0 ? raw : undefined;
}
