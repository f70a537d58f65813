// The Kubernetes manifests as a cluster would receive them: each variant rendered by
// `kubectl kustomize`, every object validated against the Kubernetes and KEDA OpenAPI
// schemas (kubernetes-models), then checked against the code: the variables
// adapters/config.ts reads, the probes the adapters answer, the worker's drain.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim, type IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret, type ISecret } from 'kubernetes-models/v1/Secret';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { Job, type IJob } from 'kubernetes-models/batch/v1/Job';
import { ScaledObject, type IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { TriggerAuthentication, type ITriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication';
import { loadConfig, type Config, type Entry } from '#adapters/config.ts';
import { kustomize, type RenderedObject } from '#test/support/kustomize.ts';
import { ROOT, configVariables, dockerStages, imageTag, readText } from '#test/support/repo-sources.ts';

const MODELS = [ConfigMap, Secret, Service, PersistentVolumeClaim, Deployment, Job, ScaledObject, TriggerAuthentication];

type Env = Record<string, string>;

/** One rendered variant: its objects, looked up by kind and name. */
class Rendered {
  constructor(readonly objects: RenderedObject[]) {}

  all<T>(kind: string): T[] {
    return this.objects.filter((object) => object.kind === kind) as unknown as T[];
  }

  one<T>(kind: string, name?: string): T {
    const found = this.objects.filter((object) => object.kind === kind && (name === undefined || object.metadata.name === name));
    assert.equal(found.length, 1, `expected one ${kind}${name ? ` named ${name}` : ''}, found ${found.length}`);
    return found[0] as unknown as T;
  }

  deployment(name: string): IDeployment {
    return this.one<IDeployment>('Deployment', name);
  }

  /** What a container's process sees: envFrom ConfigMaps and Secrets, then `env` over them. */
  environment(container: IContainer): Env {
    const env: Env = {};
    for (const source of container.envFrom ?? []) {
      if (source.configMapRef) Object.assign(env, this.one<IConfigMap>('ConfigMap', source.configMapRef.name).data);
      if (source.secretRef) Object.assign(env, secretData(this.one<ISecret>('Secret', source.secretRef.name)));
    }
    for (const variable of container.env ?? []) {
      const ref = variable.valueFrom?.secretKeyRef;
      const value = ref ? secretData(this.one<ISecret>('Secret', ref.name))[ref.key] : variable.value;
      if (value !== undefined) env[variable.name] = value;
      else assert.ok(ref?.optional, `${variable.name} has a value or is an optional reference`);
    }
    return env;
  }

  config(deployment: string, entry: Entry): Config {
    return loadConfig(this.environment(onlyContainer(this.deployment(deployment).spec!.template)), entry);
  }
}

function secretData(secret: ISecret): Env {
  const decoded = Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]);
  return { ...Object.fromEntries(decoded), ...secret.stringData };
}

function onlyContainer(template: IPodTemplateSpec): IContainer {
  assert.equal(template.spec?.containers.length, 1);
  return template.spec.containers[0]!;
}

function containerPort(container: IContainer, port: number | string | undefined): number | undefined {
  return typeof port === 'number' ? port : container.ports?.find((candidate) => candidate.name === port)?.containerPort;
}

function podTemplates(rendered: Rendered): Array<{ name: string; template: IPodTemplateSpec }> {
  return [...rendered.all<IDeployment>('Deployment'), ...rendered.all<IJob>('Job')].map((owner) => ({
    name: `${owner.kind}/${owner.metadata!.name}`,
    template: owner.spec!.template,
  }));
}

/** The longest `DRAIN_TIMEOUT_MS = <ms>` among the entries' sources, wherever they live. */
function drainTimeoutMs(): number {
  const sources = (dir: string): string[] =>
    readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
    );
  const roots = readdirSync(ROOT).filter((dir) => dir === 'adapters' || dir === 'entries');
  const values = roots
    .flatMap(sources)
    .flatMap((file) => [...readText(file).matchAll(/\bDRAIN_TIMEOUT_MS\s*=\s*([\d_]+)/g)].map((match) => Number(match[1]!.replace(/_/g, ''))));
  assert.ok(values.length > 0, 'the worker declares its DRAIN_TIMEOUT_MS');
  return Math.max(...values);
}

const VARIANTS = [
  { dir: 'k8s/base', storage: 'fs' },
  { dir: 'k8s/overlays/s3', storage: 's3' },
] as const;

for (const variant of VARIANTS) {
  describe(`${variant.dir}, rendered by kubectl kustomize`, () => {
    let rendered: Rendered;

    before(async () => {
      rendered = new Rendered(await kustomize(variant.dir));
    });

    it('holds only objects that validate against the Kubernetes and KEDA schemas', () => {
      for (const object of rendered.objects) {
        const Model = MODELS.find((candidate) => candidate.apiVersion === object.apiVersion && candidate.kind === object.kind);
        assert.ok(Model, `a schema for ${object.apiVersion} ${object.kind}`);

        // The constructor's types are per kind; the object is checked at run time by validate().
        const model = new (Model as new (data: unknown) => { validate(): void })(object);

        assert.doesNotThrow(() => model.validate(), `${object.kind}/${object.metadata.name} is valid`);
      }
      assert.ok(rendered.objects.length >= 8, `rendered ${rendered.objects.length} objects`);
    });

    it(`gives the api and worker a config loadConfig accepts, with storage ${variant.storage}`, () => {
      const api = rendered.config('imgpipe-api', 'api');
      const worker = rendered.config('imgpipe-worker', 'worker');

      assert.equal(worker.storage, variant.storage);
      assert.equal(api.otel.serviceName, 'api');
      assert.equal(worker.otel.serviceName, 'worker');
      if (variant.storage === 's3') {
        assert.ok(worker.s3.accessKeyId && worker.s3.secretAccessKey, 'S3 credentials come from the Secret');
        assert.ok(worker.s3.endpoint, 'an S3 endpoint');
      }
    });

    it('sets in every container only variables adapters/config.ts reads', () => {
      const known = configVariables();

      const set = podTemplates(rendered).flatMap(({ template }) => Object.keys(rendered.environment(onlyContainer(template))));

      assert.ok(set.includes('RABBIT_URL') && set.includes('DATABASE_URL'), 'the URLs are set');
      assert.deepEqual([...new Set(set.filter((name) => !known.has(name)))], []);
    });

    it('keeps credentials in Secrets, not in the ConfigMap', () => {
      const configMap = rendered.one<IConfigMap>('ConfigMap', 'imgpipe-config');
      const credentials = ['RABBIT_URL', 'DATABASE_URL', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'API_KEY'];

      const inConfigMap = credentials.filter((name) => name in (configMap.data ?? {}));

      assert.deepEqual(inConfigMap, []);
      for (const name of ['RABBIT_URL', 'DATABASE_URL']) assert.ok(name in secretData(rendered.one<ISecret>('Secret', 'imgpipe-secrets')), `${name} is in the Secret`);
    });

    it('passes the optional API_KEY from the Secret to the api, which stays open without it', () => {
      const container = onlyContainer(rendered.deployment('imgpipe-api').spec!.template);
      const reference = container.env?.find((variable) => variable.name === 'API_KEY')?.valueFrom?.secretKeyRef;

      const withKey = new Rendered(
        rendered.objects.map((object) =>
          object.kind === 'Secret' && object.metadata.name === reference?.name
            ? { ...object, stringData: { ...(object as ISecret).stringData, [reference.key]: 'k3y' } }
            : object,
        ),
      );

      assert.equal(reference?.optional, true, 'the key is optional');
      assert.equal(rendered.config('imgpipe-api', 'api').apiKey, undefined);
      assert.equal(withKey.config('imgpipe-api', 'api').apiKey, 'k3y');
    });

    it('runs the api from dist/http.mjs on PORT, ready on /healthz and alive on /healthz?probe=live', () => {
      const container = onlyContainer(rendered.deployment('imgpipe-api').spec!.template);
      const port = rendered.config('imgpipe-api', 'api').port;

      const readiness = container.readinessProbe?.httpGet;
      const liveness = container.livenessProbe?.httpGet;

      assert.deepEqual(container.command, ['node', 'dist/http.mjs']);
      assert.equal(readiness?.path, '/healthz');
      assert.equal(liveness?.path, '/healthz?probe=live');
      assert.equal(containerPort(container, readiness.port), port);
      assert.equal(containerPort(container, liveness.port), port);
    });

    it('exposes the api pods through a Service on port 8000', () => {
      const api = rendered.deployment('imgpipe-api');
      const container = onlyContainer(api.spec!.template);

      const svc = rendered.one<IService>('Service', 'imgpipe-api');
      const port = svc.spec!.ports![0]!;

      for (const [key, value] of Object.entries(svc.spec!.selector!)) assert.equal(api.spec!.template.metadata!.labels![key], value);
      assert.deepEqual(api.spec!.selector.matchLabels, svc.spec!.selector);
      assert.equal(port.port, 8000);
      assert.equal(containerPort(container, port.targetPort), 8000);
    });

    it('runs the worker from dist/worker.mjs with both probes on METRICS_PORT /healthz', () => {
      const container = onlyContainer(rendered.deployment('imgpipe-worker').spec!.template);
      const metricsPort = rendered.config('imgpipe-worker', 'worker').metricsPort;

      const probes = [container.readinessProbe?.httpGet, container.livenessProbe?.httpGet];

      assert.deepEqual(container.command, ['node', 'dist/worker.mjs']);
      for (const probe of probes) {
        assert.equal(probe?.path, '/healthz');
        assert.equal(containerPort(container, probe.port), metricsPort);
      }
    });

    it('gives the worker longer to stop than its drain and one download take, and bounded resources', () => {
      const template = rendered.deployment('imgpipe-worker').spec!.template;
      const container = onlyContainer(template);
      const config = rendered.config('imgpipe-worker', 'worker');

      const graceMs = (template.spec!.terminationGracePeriodSeconds ?? 30) * 1000;

      assert.ok(graceMs > drainTimeoutMs(), `${graceMs} ms outlasts the drain (${drainTimeoutMs()} ms)`);
      assert.ok(graceMs > config.fetch.timeoutMs, `${graceMs} ms outlasts one download (${config.fetch.timeoutMs} ms)`);
      for (const kind of ['requests', 'limits'] as const) {
        assert.ok(container.resources?.[kind]?.cpu && container.resources[kind].memory, `worker ${kind}`);
      }
      assert.equal(rendered.deployment('imgpipe-worker').spec!.replicas, undefined, 'KEDA owns the replica count');
    });

    it('scales the worker with KEDA on the management API count of QUEUE and its suspect queue, ready and unacknowledged', () => {
      const scaled = rendered.one<IScaledObject>('ScaledObject');
      const triggers = scaled.spec!.triggers.filter((candidate) => candidate.type === 'rabbitmq');
      const queue = rendered.config('imgpipe-worker', 'worker').queue;

      assert.equal(scaled.spec!.scaleTargetRef.name, 'imgpipe-worker');
      assert.deepEqual(
        triggers.map((trigger) => (trigger.metadata as Record<string, string>).queueName),
        [queue, `${queue}.suspect`],
        'one rabbitmq trigger per queue the workers consume',
      );
      for (const trigger of triggers) {
        const metadata = trigger.metadata as Record<string, string>;
        assert.equal(metadata.protocol, 'http', 'AMQP would count ready messages only');
        assert.equal(metadata.mode, 'QueueLength');
        assert.match(metadata.value ?? '', /^[1-9]\d*$/);
        assert.match(metadata.activationValue ?? '', /^\d+$/, 'activationValue is set');
        assert.equal(metadata.host, undefined, 'the host comes from the TriggerAuthentication, not the manifest');
        assert.equal(trigger.authenticationRef?.name, triggers[0]!.authenticationRef?.name);
      }
      assert.ok(scaled.spec!.maxReplicaCount! > (scaled.spec!.minReplicaCount ?? 0), 'maxReplicaCount is above the minimum');
    });

    it('lets KEDA read the management API URL from a Secret the pods do not load', () => {
      const trigger = rendered.one<IScaledObject>('ScaledObject').spec!.triggers[0]!;

      const auth = rendered.one<ITriggerAuthentication>('TriggerAuthentication', trigger.authenticationRef?.name);
      const host = auth.spec!.secretTargetRef?.find((ref) => ref.parameter === 'host');
      const url = new URL(secretData(rendered.one<ISecret>('Secret', host?.name))[host!.key]!);
      const loadedByPods = podTemplates(rendered).flatMap(({ template }) => onlyContainer(template).envFrom?.map((source) => source.secretRef?.name) ?? []);

      assert.match(url.protocol, /^https?:$/);
      assert.ok(url.pathname.endsWith('/'), 'a vhost path, or a bare slash for the default vhost');
      assert.ok(!loadedByPods.includes(host!.name), 'the pods never see it');
    });

    it('applies db/init.sql from the image with a Job', () => {
      const container = onlyContainer(rendered.one<IJob>('Job').spec!.template);
      const finalStage = dockerStages().at(-1)!.instructions;

      const script = [...(container.command ?? []), ...(container.args ?? [])].join('\n');

      assert.equal(container.workingDir, '/app');
      assert.match(script, /readFileSync\('db\/init\.sql'/);
      assert.ok(finalStage.includes('WORKDIR /app') && finalStage.some((line) => /^COPY (--\S+ )*db \.?\/?db\/?$/.test(line)), 'the image has db/ under /app');
      assert.ok(rendered.environment(container).DATABASE_URL, 'the Job gets DATABASE_URL');
    });

    it('pins a tag on every image, never latest', () => {
      const images = podTemplates(rendered).map(({ template }) => onlyContainer(template).image!);

      const tags = images.map(imageTag);

      assert.ok(images.length >= 3, `found ${images.length} images`);
      tags.forEach((tag, index) => {
        assert.ok(tag && tag !== 'latest', `${images[index]} has a pinned tag`);
      });
    });
  });
}

describe('k8s/base: thumbnails on a shared volume', () => {
  it('mounts a ReadWriteMany claim at /data, where DATA_DIR points', async () => {
    const rendered = new Rendered(await kustomize('k8s/base'));
    const template = rendered.deployment('imgpipe-worker').spec!.template;

    const mount = onlyContainer(template).volumeMounts?.find((candidate) => candidate.mountPath === '/data');
    const claimName = template.spec!.volumes?.find((volume) => volume.name === mount?.name)?.persistentVolumeClaim?.claimName;

    assert.ok(claimName, 'a PersistentVolumeClaim is mounted at /data');
    assert.ok(rendered.one<IPersistentVolumeClaim>('PersistentVolumeClaim', claimName).spec!.accessModes!.includes('ReadWriteMany'));
    assert.equal(rendered.config('imgpipe-worker', 'worker').dataDir, '/data');
  });
});

describe('k8s/overlays/s3: thumbnails in object storage', () => {
  it('claims no volume and mounts nothing at /data', async () => {
    const rendered = new Rendered(await kustomize('k8s/overlays/s3'));
    const template = rendered.deployment('imgpipe-worker').spec!.template;

    const mounts = onlyContainer(template).volumeMounts?.map((mount) => mount.mountPath) ?? [];
    const claims = (template.spec!.volumes ?? []).filter((volume) => volume.persistentVolumeClaim);

    assert.deepEqual(rendered.all('PersistentVolumeClaim'), []);
    assert.deepEqual(claims, []);
    assert.ok(!mounts.includes('/data'), '/data is not mounted');
  });
});

describe('the schema validation', () => {
  it('refuses what the API server would refuse', async () => {
    const rendered = new Rendered(await kustomize('k8s/base'));
    const deployment = rendered.deployment('imgpipe-worker');
    const scaled = rendered.one<IScaledObject>('ScaledObject');

    const badReplicas = new Deployment({ ...deployment, spec: { ...deployment.spec!, replicas: 'two' as unknown as number } });
    const noContainers = new Deployment({ ...deployment, spec: { ...deployment.spec!, template: { spec: {} as never } } });
    const numericValue = new ScaledObject({
      ...scaled,
      spec: { ...scaled.spec!, triggers: [{ ...scaled.spec!.triggers[0]!, metadata: { value: 50 } as unknown as Record<string, string> }] },
    });

    assert.throws(() => badReplicas.validate(), /replicas must be integer/);
    assert.throws(() => noContainers.validate(), /containers/);
    assert.throws(() => numericValue.validate(), /value must be string/);
  });
});
