// The container stack and the Kubernetes manifests cannot run here (no container
// engine, no cluster), so these tests parse them and check they agree with the
// code: the bundles build.mjs writes, the variables adapters/config.ts reads and
// their defaults, the probes the adapters answer, and the files they load.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '#adapters/config.ts';
import type { Entry } from '#adapters/config.ts';
import { variablesLoadConfigReads } from '#test/support/config-variables.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

// ---------------------------------------------------------------- readers

type Env = Record<string, string>;
type EnvValue = string | number | boolean | null;

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  env_file?: Array<{ path: string; required?: boolean }>;
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

interface Probe {
  httpGet?: { path: string; port: number | string };
}

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}

interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: {
    containers: Container[];
    volumes?: Array<{ name: string; persistentVolumeClaim?: { claimName: string } }>;
    terminationGracePeriodSeconds?: number;
  };
}

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
}

interface Deployment extends Manifest {
  spec: { replicas?: number; selector: { matchLabels: Record<string, string> }; template: PodTemplate };
}

interface Job extends Manifest {
  spec: { template: PodTemplate };
}

interface Service extends Manifest {
  spec: { selector: Record<string, string>; ports: Array<{ port: number; targetPort: number | string }> };
}

interface ConfigMap extends Manifest {
  data: Env;
}

interface Secret extends Manifest {
  stringData: Env;
}

interface PersistentVolumeClaim extends Manifest {
  spec: { accessModes: string[] };
}

interface ScaledObject extends Manifest {
  spec: {
    scaleTargetRef: { name: string; kind?: string };
    minReplicaCount: number;
    maxReplicaCount: number;
    triggers: Array<{ type: string; metadata: Record<string, string>; authenticationRef?: { name: string } }>;
  };
}

interface TriggerAuthentication extends Manifest {
  spec: { secretTargetRef: Array<{ parameter: string; name: string; key: string }> };
}

interface Kustomization {
  resources: string[];
  images?: Array<{ name: string; newName?: string; newTag?: string }>;
}

function readText(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
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

function k8sFiles(): string[] {
  return readdirSync(join(ROOT, 'k8s'))
    .filter((file) => /\.ya?ml$/.test(file) && file !== 'kustomization.yaml')
    .sort();
}

function manifests(): Manifest[] {
  return k8sFiles().flatMap((file) =>
    parseAllDocuments(readText(join('k8s', file)))
      .map((document) => document.toJS() as Manifest | null)
      .filter((manifest): manifest is Manifest => manifest !== null),
  );
}

function manifest<T extends Manifest>(kind: string, name?: string): T {
  const found = manifests().filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  assert.equal(found.length, 1, `expected one ${kind}${name ? ` named ${name}` : ''} in k8s/, found ${found.length}`);
  return found[0] as T;
}

function onlyContainer(template: PodTemplate): Container {
  assert.equal(template.spec.containers.length, 1);
  return template.spec.containers[0]!;
}

function apiDeployment(): Deployment {
  return manifest<Deployment>('Deployment', 'imgpipe-api');
}

function workerDeployment(): Deployment {
  return manifest<Deployment>('Deployment', 'imgpipe-worker');
}

function configMap(): ConfigMap {
  return manifest<ConfigMap>('ConfigMap', 'imgpipe-config');
}

function secret(): Secret {
  return manifest<Secret>('Secret', 'imgpipe-secrets');
}

/** `NAME` passed as the first argument of a `read.*` call in adapters/config.ts. */
function configVariables(): Set<string> {
  const source = readText('adapters/config.ts');
  return new Set([...source.matchAll(/\bread\.\w+\(\s*'([A-Z][A-Z0-9_]*)'/g)].map((match) => match[1]!));
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

/** What a compose service's process sees: env_file (.env) first, `environment` over it. */
function containerEnv(name: string, dotenv: Env): Env {
  const definition = service(name);
  const explicit = Object.fromEntries(
    Object.entries(definition.environment ?? {}).map(([key, value]) => [key, interpolate(value, dotenv)]),
  );
  return { ...(definition.env_file ? dotenv : {}), ...explicit };
}

function buildEntries(): Map<string, string> {
  const source = readText('build.mjs');
  const block = /entryPoints\s*=\s*\{([^}]*)\}/.exec(source);
  assert.ok(block, 'build.mjs declares no entryPoints object');
  return new Map([...block[1]!.matchAll(/(\w+)\s*:\s*'([^']+)'/g)].map((match) => [`dist/${match[1]}.mjs`, match[2]!]));
}

/** The Dockerfile's stages, each as its FROM line and the instructions after it. */
function dockerStages(): Array<{ from: string; instructions: string[] }> {
  const instructions = readText('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages: Array<{ from: string; instructions: string[] }> = [];
  for (const instruction of instructions) {
    if (/^FROM\s/i.test(instruction)) stages.push({ from: instruction, instructions: [] });
    else stages.at(-1)?.instructions.push(instruction);
  }
  return stages;
}

function imageTag(image: string): string | undefined {
  const withoutDigest = image.split('@')[0]!;
  const lastSegment = withoutDigest.slice(withoutDigest.lastIndexOf('/') + 1);
  return lastSegment.includes(':') ? lastSegment.slice(lastSegment.indexOf(':') + 1) : undefined;
}

function containerPort(container: Container, port: number | string): number | undefined {
  return typeof port === 'number' ? port : container.ports?.find((candidate) => candidate.name === port)?.containerPort;
}

function configDefault(entry: Entry) {
  return loadConfig({}, entry);
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

describe('k8s/', () => {
  it('kustomization.yaml lists every manifest in the folder and nothing else', () => {
    const kustomization = readYaml<Kustomization>('k8s/kustomization.yaml');

    const listed = [...kustomization.resources].sort();

    assert.deepEqual(listed, k8sFiles());
  });

  it('runs the api from dist/http.mjs on PORT, ready on /healthz and alive on /healthz?probe=live', () => {
    const deployment = apiDeployment();
    const container = onlyContainer(deployment.spec.template);
    const port = Number(configMap().data.PORT ?? configDefault('api').port);

    const readiness = container.readinessProbe?.httpGet;
    const liveness = container.livenessProbe?.httpGet;

    assert.deepEqual(container.command, ['node', 'dist/http.mjs']);
    assert.equal(readiness?.path, '/healthz');
    assert.equal(liveness?.path, '/healthz?probe=live');
    assert.equal(containerPort(container, readiness.port), port);
    assert.equal(containerPort(container, liveness.port), port);
  });

  it('exposes the api pods through a Service on port 8000', () => {
    const api = apiDeployment();
    const container = onlyContainer(api.spec.template);

    const svc = manifest<Service>('Service', 'imgpipe-api');

    for (const [key, value] of Object.entries(svc.spec.selector)) assert.equal(api.spec.template.metadata.labels[key], value);
    assert.deepEqual(api.spec.selector.matchLabels, svc.spec.selector);
    assert.equal(svc.spec.ports[0]?.port, 8000);
    assert.equal(containerPort(container, svc.spec.ports[0]!.targetPort), 8000);
  });

  it('runs the worker from dist/worker.mjs with both probes on METRICS_PORT /healthz', () => {
    const container = onlyContainer(workerDeployment().spec.template);
    const metricsPort = Number(configMap().data.METRICS_PORT ?? configDefault('worker').metricsPort);

    const probes = [container.readinessProbe?.httpGet, container.livenessProbe?.httpGet];

    assert.deepEqual(container.command, ['node', 'dist/worker.mjs']);
    for (const probe of probes) {
      assert.equal(probe?.path, '/healthz');
      assert.equal(containerPort(container, probe.port), metricsPort);
    }
  });

  it('mounts the ReadWriteMany claim at /data, where DATA_DIR points', () => {
    const template = workerDeployment().spec.template;
    const container = onlyContainer(template);

    const mount = container.volumeMounts?.find((candidate) => candidate.mountPath === '/data');
    const claimName = template.spec.volumes?.find((volume) => volume.name === mount?.name)?.persistentVolumeClaim?.claimName;

    assert.ok(claimName, 'a PersistentVolumeClaim is mounted at /data');
    assert.ok(manifest<PersistentVolumeClaim>('PersistentVolumeClaim', claimName).spec.accessModes.includes('ReadWriteMany'), 'the claim is ReadWriteMany');
    assert.equal(configMap().data.DATA_DIR ?? configDefault('worker').dataDir, '/data');
  });

  it('gives the worker time to drain and bounded resources', () => {
    const template = workerDeployment().spec.template;
    const container = onlyContainer(template);
    const fetchTimeoutMs = Number(configMap().data.FETCH_TIMEOUT_MS ?? configDefault('worker').fetch.timeoutMs);

    const grace = template.spec.terminationGracePeriodSeconds ?? 30;

    assert.ok(grace * 1000 > fetchTimeoutMs, `${grace}s outlasts one download (${fetchTimeoutMs} ms)`);
    for (const kind of ['requests', 'limits'] as const) {
      assert.ok(container.resources?.[kind]?.cpu && container.resources[kind].memory, `worker ${kind}`);
    }
    assert.equal(workerDeployment().spec.replicas, undefined, 'KEDA owns the replica count');
  });

  it('sets only variables adapters/config.ts reads, with values it accepts', () => {
    const known = configVariables();
    const containers = [apiDeployment(), workerDeployment(), manifest<Job>('Job')].map((m) => onlyContainer(m.spec.template));

    const set = [
      ...Object.keys(configMap().data),
      ...Object.keys(secret().stringData),
      ...containers.flatMap((container) => (container.env ?? []).map((variable) => variable.name)),
    ];

    assert.deepEqual(set.filter((name) => !known.has(name)), []);
    for (const name of ['RABBIT_URL', 'DATABASE_URL', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY']) {
      assert.ok(name in secret().stringData, `${name} is in the Secret`);
      assert.ok(!(name in configMap().data), `${name} is not in the ConfigMap`);
    }
    assert.doesNotThrow(() => loadConfig({ ...configMap().data, ...secret().stringData }, 'worker'));
    for (const container of containers.slice(0, 2)) {
      assert.deepEqual(container.envFrom?.map((source) => source.configMapRef?.name ?? source.secretRef?.name), ['imgpipe-config', 'imgpipe-secrets']);
    }
  });

  it('scales the worker Deployment with KEDA on the length of the QUEUE default', () => {
    const scaled = manifest<ScaledObject>('ScaledObject');
    const trigger = scaled.spec.triggers.find((candidate) => candidate.type === 'rabbitmq');

    const queue = configDefault('worker').queue;

    assert.equal(scaled.spec.scaleTargetRef.name, workerDeployment().metadata.name);
    assert.ok(trigger, 'a rabbitmq trigger');
    assert.equal(trigger.metadata.queueName, queue);
    assert.equal(configMap().data.QUEUE ?? queue, queue);
    assert.equal(trigger.metadata.mode, 'QueueLength');
    assert.match(trigger.metadata.value ?? '', /^[1-9]\d*$/);
    assert.ok(scaled.spec.minReplicaCount >= 0 && scaled.spec.minReplicaCount <= 1, 'minReplicaCount is 0 or 1');
    assert.ok(scaled.spec.maxReplicaCount > scaled.spec.minReplicaCount, 'maxReplicaCount is above the minimum');
  });

  it('lets KEDA read the broker host from the app Secret', () => {
    const trigger = manifest<ScaledObject>('ScaledObject').spec.triggers[0]!;

    const auth = manifest<TriggerAuthentication>('TriggerAuthentication', trigger.authenticationRef?.name);
    const host = auth.spec.secretTargetRef.find((ref) => ref.parameter === 'host');

    assert.equal(host?.name, secret().metadata.name);
    assert.ok(host.key in secret().stringData, `the Secret has ${host.key}`);
    assert.match(secret().stringData[host.key]!, /^amqps?:\/\//);
  });

  it('applies db/init.sql from the image with a Job', () => {
    const container = onlyContainer(manifest<Job>('Job').spec.template);
    const finalStage = dockerStages().at(-1)!.instructions;

    const script = [...(container.command ?? []), ...(container.args ?? [])].join('\n');

    assert.equal(container.workingDir, '/app');
    assert.match(script, /readFileSync\('db\/init\.sql'/);
    assert.ok(finalStage.includes('WORKDIR /app') && finalStage.some((line) => /^COPY (--\S+ )*db \.?\/?db\/?$/.test(line)), 'the image has db/ under /app');
    assert.equal(container.env?.find((variable) => variable.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef?.name, secret().metadata.name);
  });
});

describe('image references', () => {
  it('pin a tag everywhere, never latest', () => {
    const kustomization = readYaml<Kustomization>('k8s/kustomization.yaml');

    const images = [
      ...Object.values(compose().services).flatMap((definition) => (definition.image ? [definition.image] : [])),
      ...manifests().flatMap((m) => {
        const template = (m as Partial<Deployment>).spec?.template;
        return template ? template.spec.containers.map((container) => container.image) : [];
      }),
      ...dockerStages().map((stage) => stage.from.split(/\s+/)[1]!),
    ];
    const tags = [...images.map(imageTag), ...(kustomization.images ?? []).map((image) => image.newTag)];

    assert.ok(images.length >= 10, `found ${images.length} image references`);
    tags.forEach((tag, index) => {
      assert.ok(tag, `${images[index] ?? 'a kustomize image'} has a tag`);
      assert.notEqual(tag, 'latest');
    });
  });
});
