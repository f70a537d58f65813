import { describeImageStore } from '#test/conformance/describe-image-store.ts';
import { MemoryStore } from '#test/fakes/memory-store.ts';

describeImageStore(
  'MemoryStore',
  async () => {
    const store = new MemoryStore();
    return { store, read: (key) => store.read(key), cleanup: () => store.close() };
  },
  { conditionalWrites: true, keepsContentType: true },
);
