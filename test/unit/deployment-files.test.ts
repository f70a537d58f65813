// The container stack cannot run here (no container engine), so these tests parse
// its files and check they agree with the code: the bundles build.mjs writes, the
// variables adapters/config.ts reads and their defaults, the probes the adapters
// answer, and the files they load. .ci/run also has Compose itself check the file
// (`docker-compose config -q`); the Kubernetes manifests are rendered by kubectl in
// test/integration/k8s-manifests.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '#adapters/config.ts';
import { variablesLoadConfigReads } from '#test/support/config-variables.ts';
import { ROOT, configVariables, dockerStages, imageTag, readText } from '#test/support/repo-sources.ts';

// ---------------------------------------------------------------- readers

type Env = Record<string, string>;
type EnvValue = string | number | boolean | null;

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  env_file?: unknown;
  environment?: Record<string, EnvValue>;
  volumes?: string[];
  healthcheck?: { test: string[] };
  deploy?: { replicas?: number };
  depends_on?: Record<string, { condition: string }>;
}

interface Compose {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

interface CollectorConfig {
  receivers: Record<string, { protocols?: Record<string, { endpoint?: string }> }>;
  processors?: Record<string, unknown>;
  exporters: Record<string, { endpoint?: string } | null>;
  extensions?: Record<string, unknown>;
  service: { pipelines: Record<string, { receivers: string[]; processors?: string[]; exporters: string[] }> };
}

function readYaml<T>(path: string): T {
  // Compose files share blocks through anchors and `<<` merge keys.
  return parse(readText(path), { merge: true }) as T;
}

function compose(): Compose {
  return readYaml<Compose>('docker-compose.yml');
}

function service(name: string): ComposeService {
  const found = compose().services[name];
  assert.ok(found, `docker-compose.yml has no service ${name}`);
  return found;
}

interface EnvLine {
  name: string;
  value: string;
  commented: boolean;
}

function envExample(): EnvLine[] {
  return readText('.env.example')
    .split('\n')
    .flatMap((line) => {
      const match = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
      return match ? [{ name: match[2]!, value: match[3]!, commented: match[1] !== undefined }] : [];
    });
}

/** The variables a copy of .env.example sets (its uncommented lines). */
function envExampleValues(): Env {
  return Object.fromEntries(envExample().filter((line) => !line.commented).map((line) => [line.name, line.value]));
}

/** Compose's `${NAME}` / `${NAME:-default}` interpolation against the given .env. */
function interpolate(value: EnvValue, dotenv: Env): string {
  return String(value ?? '').replace(/\$\{([A-Za-z0-9_]+)(?::?-([^}]*))?\}/g, (_match, name: string, fallback?: string) => {
    const set = dotenv[name];
    return set !== undefined && set !== '' ? set : fallback ?? '';
  });
}

/** What a compose service's process sees when .env holds `dotenv`: its `environment`, interpolated. */
function containerEnv(name: string, dotenv: Env): Env {
  const definition = service(name);
  return Object.fromEntries(Object.entries(definition.environment ?? {}).map(([key, value]) => [key, interpolate(value, dotenv)]));
}

function buildEntries(): Map<string, string> {
  const source = readText('build.mjs');
  const block = /entryPoints\s*=\s*\{([^}]*)\}/.exec(source);
  assert.ok(block, 'build.mjs declares no entryPoints object');
  return new Map([...block[1]!.matchAll(/(\w+)\s*:\s*'([^']+)'/g)].map((match) => [`dist/${match[1]}.mjs`, match[2]!]));
}

// ---------------------------------------------------------------- tests

describe('the variables adapters/config.ts reads', () => {
  it('are the same when parsed from its source and when recorded from loadConfig', () => {
    const parsed = configVariables();

    const recorded = variablesLoadConfigReads();

    assert.ok(parsed.has('RABBIT_URL') && parsed.has('QUEUE') && parsed.has('PICSUM_URL'), 'the source parse finds known names');
    assert.deepEqual([...parsed].sort(), [...recorded].sort());
  });
});

describe('Dockerfile', () => {
  it('builds on node:20-bookworm-slim with npm ci, node build.mjs and npm prune --omit=dev', () => {
    const stages = dockerStages();

    const runs = stages.flatMap((stage) => stage.instructions.filter((line) => line.startsWith('RUN'))).join('\n');

    assert.ok(stages.length >= 2, 'a build stage and a runtime stage');
    for (const stage of stages) assert.match(stage.from, /^FROM node:20-bookworm-slim(\s+AS\s+\w+)?$/i);
    assert.match(runs, /\bnpm ci\b/);
    assert.match(runs, /\bnode build\.mjs\b/);
    assert.match(runs, /\bnpm prune --omit=dev\b/);
  });

  it('runs dist/http.mjs as the node user from /app, with only the runtime files copied in', () => {
    const final = dockerStages().at(-1)!.instructions;

    const copied = final.filter((line) => line.startsWith('COPY')).map((line) => line.split(/\s+/).at(-1)!.replace(/^\.\//, '').replace(/\/$/, ''));

    assert.ok(final.includes('WORKDIR /app'), 'WORKDIR /app');
    assert.ok(final.includes('USER node'), 'USER node');
    assert.deepEqual(copied.sort(), ['db', 'dist', 'node_modules', 'package.json']);
    assert.ok(final.some((line) => /^RUN .*chown node:node \/data\b/.test(line)), '/data belongs to node');
    assert.ok(final.some((line) => /^VOLUME \[?"?\/data"?\]?$/.test(line)), 'VOLUME /data');
    const cmd = final.filter((line) => line.startsWith('CMD')).at(-1);
    assert.deepEqual(JSON.parse(cmd!.slice('CMD'.length)), ['node', 'dist/http.mjs']);
    assert.ok(buildEntries().has('dist/http.mjs'), 'build.mjs writes dist/http.mjs');
  });

  it('.dockerignore keeps secrets and local builds out of the context, but not what the build needs', () => {
    const ignored = readText('.dockerignore').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));

    for (const path of ['.env', 'node_modules', 'dist']) assert.ok(ignored.includes(path), `${path} is ignored`);
    for (const path of ['functions', 'adapters', 'db', 'build.mjs', 'package.json', 'package-lock.json', 'tsconfig.json']) {
      assert.ok(!ignored.includes(path), `${path} reaches the build`);
    }
    for (const source of buildEntries().values()) {
      assert.ok(!ignored.some((path) => source.startsWith(`${path}/`)), `${source} reaches the build`);
    }
  });

  it('bundles no test code, since test/ stays out of the build context', () => {
    const sources = (dir: string): string[] =>
      readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
      );

    const importingTests = [...sources('adapters'), ...sources('functions')].filter((file) =>
      /from\s+'(#test\/|(\.\.\/)+test\/)/.test(readText(file)),
    );

    assert.deepEqual(importingTests, []);
  });
});

describe('docker-compose.yml', () => {
  it('has the seven services of the stack', () => {
    const names = Object.keys(compose().services).sort();

    assert.deepEqual(names, ['api', 'collector', 'jaeger', 'minio', 'postgres', 'rabbitmq', 'worker']);
  });

  it('starts dist/http.mjs in the api and dist/worker.mjs in the worker, both bundles of build.mjs', () => {
    const entries = buildEntries();

    const api = service('api');
    const worker = service('worker');

    assert.deepEqual(api.command, ['node', 'dist/http.mjs']);
    assert.deepEqual(worker.command, ['node', 'dist/worker.mjs']);
    assert.ok(entries.has('dist/http.mjs') && entries.has('dist/worker.mjs'), 'build.mjs writes both bundles');
    assert.ok(api.build !== undefined && api.image === worker.image, 'one image built from this folder');
  });

  it('sets in the api and worker only variables adapters/config.ts reads', () => {
    const known = configVariables();

    const set = ['api', 'worker'].flatMap((name) => Object.keys(service(name).environment ?? {}));

    assert.ok(set.length > 0, 'some variables are set');
    assert.deepEqual(set.filter((name) => !known.has(name)), []);
  });

  it('names in .env.example every variable it interpolates', () => {
    const documented = new Set(envExample().map((line) => line.name));

    const interpolated = [...readText('docker-compose.yml').matchAll(/\$\{([A-Za-z0-9_]+)/g)].map((match) => match[1]!);

    assert.ok(interpolated.length > 0, 'some values are interpolated');
    assert.deepEqual([...new Set(interpolated)].filter((name) => !documented.has(name)), []);
  });

  it('gives the api and worker a valid config that points at the compose services', () => {
    const services = new Set(Object.keys(compose().services));

    const api = loadConfig(containerEnv('api', {}), 'api');
    const worker = loadConfig(containerEnv('worker', {}), 'worker');

    for (const config of [api, worker]) {
      assert.equal(new URL(config.rabbitUrl!).hostname, 'rabbitmq');
      assert.equal(new URL(config.databaseUrl!).hostname, 'postgres');
      assert.equal(new URL(config.s3.endpoint!).hostname, 'minio');
      assert.equal(config.otel.tracesUrl, 'http://collector:4318/v1/traces');
    }
    for (const host of ['rabbitmq', 'postgres', 'minio', 'collector']) assert.ok(services.has(host), `${host} is a service`);
    assert.equal(api.otel.serviceName, 'api');
    assert.equal(worker.otel.serviceName, 'worker');
    assert.equal(worker.storage, 'fs');
    assert.equal(worker.fetch.picsumUrl, 'https://picsum.photos', 'real picsum unless .env says otherwise');
  });

  it('processes the seed rows offline once .env.example is copied to .env', () => {
    const dotenv = envExampleValues();

    const worker = loadConfig(containerEnv('worker', dotenv), 'worker');

    assert.equal(worker.fetch.picsumUrl, 'http://api:8000/samples');
    assert.ok(worker.fetch.allowHosts.includes('api:8000'), 'the api is an allowed host');
  });

  it('hands the api and worker their settings from .env, and starts without one', () => {
    const dotenv = { CONCURRENCY: '3', LOG_LEVEL: 'debug', STORAGE: 'minio', FETCH_TIMEOUT_MS: '1234', QUEUE: 'jobs.q', API_KEY: 'k3y' };

    const worker = loadConfig(containerEnv('worker', dotenv), 'worker');
    const api = loadConfig(containerEnv('api', dotenv), 'api');
    const apiWithoutDotenv = loadConfig(containerEnv('api', {}), 'api');

    assert.deepEqual([worker.concurrency, worker.logLevel, worker.storage, worker.fetch.timeoutMs], [3, 'debug', 's3', 1234]);
    assert.equal(api.queue, 'jobs.q');
    assert.equal(api.apiKey, 'k3y');
    assert.equal(apiWithoutDotenv.apiKey, undefined, 'no API_KEY leaves the api open');
    for (const [name, definition] of Object.entries(compose().services)) {
      assert.equal(definition.env_file, undefined, `${name} reads no env_file, which Compose v1 requires to exist`);
    }
  });

  it('passes every variable adapters/config.ts reads to the worker, from .env unless the stack fixes it', () => {
    // The api's key and listening port are no business of the worker's (its probe
    // listens on the default HOST); compose's own collector receives the traces;
    // the crash hook is for tests only.
    const notForTheWorker = new Set(['API_KEY', 'HOST', 'PORT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'IMGPIPE_TEST_CRASH_ON_URL']);

    const passed = new Set(Object.keys(service('worker').environment ?? {}));

    assert.deepEqual([...configVariables()].filter((name) => !passed.has(name) && !notForTheWorker.has(name)), []);
  });

  it('names the api and worker spans per service, whatever .env says', () => {
    const dotenv = { ...envExampleValues(), OTEL_SERVICE_NAME: 'from-dotenv' };

    const api = loadConfig(containerEnv('api', dotenv), 'api');
    const worker = loadConfig(containerEnv('worker', dotenv), 'worker');

    assert.equal(api.otel.serviceName, 'api');
    assert.equal(worker.otel.serviceName, 'worker');
  });

  it('loads db/init.sql into postgres through /docker-entrypoint-initdb.d', () => {
    const mounts = (service('postgres').volumes ?? []).map((volume) => volume.split(':'));

    const init = mounts.find(([source]) => source === './db/init.sql');

    assert.ok(init, 'postgres mounts ./db/init.sql');
    assert.match(init[1]!, /^\/docker-entrypoint-initdb\.d\/[^/]+\.sql$/);
    assert.ok(existsSync(join(ROOT, 'db/init.sql')));
    assert.match(readText('db/init.sql'), /CREATE TABLE[^;]*\bimages\b/i);
  });

  it('starts the api and worker after postgres and rabbitmq report healthy', () => {
    for (const name of ['api', 'worker']) {
      const dependsOn = service(name).depends_on ?? {};

      for (const dependency of ['postgres', 'rabbitmq']) {
        assert.equal(dependsOn[dependency]?.condition, 'service_healthy', `${name} waits for ${dependency}`);
        assert.ok(service(dependency).healthcheck, `${dependency} has a healthcheck`);
      }
    }
    assert.deepEqual(service('rabbitmq').healthcheck?.test, ['CMD', 'rabbitmq-diagnostics', '-q', 'ping']);
    assert.match(service('postgres').healthcheck!.test.join(' '), /pg_isready/);
  });

  it('runs two workers that share the thumbnails volume at /data and report health on METRICS_PORT', () => {
    const worker = service('worker');

    const config = loadConfig(containerEnv('worker', {}), 'worker');

    assert.equal(worker.deploy?.replicas, 2);
    assert.ok(worker.volumes?.includes('thumbnails:/data'), 'thumbnails:/data is mounted');
    assert.ok(compose().volumes && 'thumbnails' in compose().volumes!, 'the thumbnails volume is declared');
    assert.equal(config.dataDir, '/data');
    assert.equal(config.metricsPort, 9464);
    assert.ok(worker.healthcheck?.test.join(' ').includes(`127.0.0.1:${config.metricsPort}/healthz`), 'healthcheck on METRICS_PORT /healthz');
  });

  it('mounts otel/collector-config.yaml where the collector reads its config', () => {
    const collector = service('collector');

    const mount = (collector.volumes ?? []).map((volume) => volume.split(':')).find(([source]) => source === './otel/collector-config.yaml');
    const configFlag = (collector.command ?? []).find((arg) => arg.startsWith('--config='));

    assert.ok(mount, 'the config file is mounted');
    assert.equal(configFlag, `--config=${mount[1]}`);
  });
});

describe('.env.example', () => {
  it('names every variable adapters/config.ts reads', () => {
    const documented = new Set(envExample().map((line) => line.name));

    const missing = [...configVariables()].filter((name) => !documented.has(name));

    assert.deepEqual(missing, []);
  });

  it('holds values loadConfig accepts, each documented by a comment', () => {
    const lines = readText('.env.example').split('\n');

    const values = envExampleValues();

    assert.doesNotThrow(() => loadConfig(values, 'worker'));
    assert.doesNotThrow(() => loadConfig(values, 'api'));
    for (const { name } of envExample()) {
      const at = lines.findIndex((line) => new RegExp(`^(#\\s*)?${name}=`).test(line));
      assert.match(lines[at - 1] ?? '', /^#\s*\S/, `${name} has a comment line above it`);
    }
  });
});

describe('otel/collector-config.yaml', () => {
  const collector = () => readYaml<CollectorConfig>('otel/collector-config.yaml');

  it('receives OTLP over HTTP on port 4318', () => {
    const http = collector().receivers.otlp?.protocols?.http;

    assert.equal(http?.endpoint, '0.0.0.0:4318');
  });

  it('sends the traces pipeline from otlp to Jaeger over OTLP/HTTP', () => {
    const config = collector();

    const traces = config.service.pipelines.traces;
    const otlphttp = traces?.exporters.filter((name) => name === 'otlphttp' || name.startsWith('otlphttp/')) ?? [];

    assert.ok(traces?.receivers.includes('otlp'), 'traces come in over otlp');
    assert.equal(otlphttp.length, 1);
    const endpoint = new URL(config.exporters[otlphttp[0]!]!.endpoint!);
    assert.equal(endpoint.host, 'jaeger:4318');
    assert.ok(compose().services[endpoint.hostname], 'the exporter reaches a compose service');
  });

  it('uses no deprecated logging exporter and only defines components it wires', () => {
    const config = collector();

    const pipelines = Object.values(config.service.pipelines);

    assert.deepEqual(Object.keys(config.exporters).filter((name) => name.split('/')[0] === 'logging'), []);
    for (const pipeline of pipelines) {
      for (const name of pipeline.receivers) assert.ok(name in config.receivers, `receiver ${name}`);
      for (const name of pipeline.processors ?? []) assert.ok(name in (config.processors ?? {}), `processor ${name}`);
      for (const name of pipeline.exporters) assert.ok(name in config.exporters, `exporter ${name}`);
    }
  });
});

describe('image references', () => {
  it('pin a tag in compose, the Dockerfile and the kustomization, never latest', () => {
    const kustomization = readYaml<{ images?: Array<{ name: string; newTag?: string }> }>('k8s/base/kustomization.yaml');

    const images = [
      ...Object.values(compose().services).flatMap((definition) => (definition.image ? [definition.image] : [])),
      ...dockerStages().map((stage) => stage.from.split(/\s+/)[1]!),
    ];
    const tags = [...images.map(imageTag), ...(kustomization.images ?? []).map((image) => image.newTag)];

    assert.ok(images.length >= 9 && tags.length > images.length, `found ${images.length} image references and a kustomize tag`);
    tags.forEach((tag, index) => {
      assert.ok(tag, `${images[index] ?? 'a kustomize image'} has a tag`);
      assert.notEqual(tag, 'latest');
    });
  });
});
