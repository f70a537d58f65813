import amqp from 'amqplib';
import type { Job } from '#functions/job.ts';

/** Publishes jobs as the api does: persistent JSON on `images` with `process_image`, confirmed. */
export async function publishJobs(url: string, jobs: readonly Job[]): Promise<void> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    for (const job of jobs) {
      channel.publish('images', 'process_image', Buffer.from(JSON.stringify(job)), {
        persistent: true,
        contentType: 'application/json',
        messageId: job.id,
      });
    }
    await channel.waitForConfirms();
  } finally {
    await connection.close();
  }
}
