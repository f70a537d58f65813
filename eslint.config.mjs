import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The functions/ boundary (docs/architecture.md): business logic only. It may use sharp
// (the transform itself) and the OpenTelemetry API, never an I/O library or an adapter.
const IO_LIBRARIES = [
  'pg', 'pg-*', '@electric-sql/*', 'amqplib', 'amqplib/*', 'fastify', 'fastify/*', '@fastify/*',
  '@aws-sdk/*', 'undici', 'undici/*', 'pino', 'ipaddr.js', '@opentelemetry/sdk-*', '@opentelemetry/exporter-*',
  'node:fs', 'node:fs/*', 'fs', 'fs/*', 'node:net', 'net', 'node:http', 'http', 'node:https', 'https',
  'node:dns', 'node:dns/*', 'dns', 'node:child_process', 'child_process', 'node:dgram', 'node:tls',
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['functions/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: IO_LIBRARIES, message: 'functions/ must not import I/O libraries (docs/architecture.md): take a port instead.' },
          { regex: '^#adapters/|(^|/)adapters/', message: 'functions/ must not import adapters.' },
        ],
      }],
      'no-restricted-globals': ['error',
        { name: 'fetch', message: 'functions/ gets downloads through the ImageFetcher port.' },
      ],
      'no-restricted-properties': ['error',
        { object: 'process', property: 'env', message: 'handlers never read process.env: config arrives through deps.' },
      ],
    },
  },
  {
    // Composition roots depend on adapters, never the other way round.
    files: ['adapters/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ regex: '^#entries/|(^|/)entries/', message: 'adapters/ must not import entries/: an entry composes adapters.' }],
      }],
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', fetch: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', URL: 'readonly' } },
  },
);
