// One ESM bundle per entry point into dist/ (code loaded with import() goes to
// dist/chunks/). Native and wasm-backed packages stay external and load from
// node_modules at run time.
import { rm } from 'node:fs/promises';
import { build } from 'esbuild';

const entryPoints = {
  http: 'entries/http.ts',
  worker: 'entries/worker.ts',
  host: 'entries/host.ts',
  lambda: 'entries/lambda.ts',
};

// Chunk names carry a content hash: without this, every build would leave the last one's chunks behind.
await rm('dist', { recursive: true, force: true });

await build({
  entryPoints,
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // Code loaded with import() (the S3 SDK, when STORAGE asks for it; Swagger
  // and its UI, on the first /docs or /openapi.json request; the OpenTelemetry
  // SDK and exporter, when spans are exported) goes into chunks of its own, so
  // processes that never load it never parse it.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: true,
  logLevel: 'warning',
  external: ['sharp', '@electric-sql/pglite', 'pg-native'],
  // Bundled CommonJS dependencies call require(); give the ESM output one.
  banner: {
    js: "import { createRequire as __imgpipeCreateRequire } from 'node:module'; const require = __imgpipeCreateRequire(import.meta.url);",
  },
});
