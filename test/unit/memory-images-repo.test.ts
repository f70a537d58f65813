import { describeImagesRepo } from '#test/conformance/describe-images-repo.ts';
import { MemoryImagesRepo } from '#test/fakes/memory-images-repo.ts';

describeImagesRepo('MemoryImagesRepo', async (seed) => {
  const repo = new MemoryImagesRepo(seed);
  return {
    repo,
    async row(id) {
      const row = repo.rows.get(id);
      return row && { url: row.url, processed: row.processed, enqueued: row.enqueued, failure: row.failure };
    },
    unreachable: async () => Object.assign(new MemoryImagesRepo(seed), { down: true }),
    cleanup: async () => {},
  };
});
