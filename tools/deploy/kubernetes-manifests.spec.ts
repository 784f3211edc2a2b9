import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';

/**
 * deploy/kubernetes/platform: the six apps on a cluster. No cluster runs here, so these tests read
 * the manifests the way a cluster and kustomize would: every object against the official schemas,
 * then what ties them together (names, labels, ports, mounts), and against the code itself (the
 * apps' variables, route prefixes and the objects the scheduler creates).
 */
const ROOT = join(__dirname, '..', '..');
const DIR = join(ROOT, 'deploy', 'kubernetes', 'platform');
const APPS = ['api', 'tracking', 'scheduler', 'pipelines', 'optimizer', 'ci'];

/** A manifest's untyped YAML, read field by field below. */
type Yaml = any; // eslint-disable-line @typescript-eslint/no-explicit-any
type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: Yaml };

const MODELS: Record<string, new (data: Yaml) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'networking.k8s.io/v1/Ingress': Ingress,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
};

function documentsOf(file: string): Obj[] {
  const docs = parseAllDocuments(readFileSync(join(DIR, file), 'utf8'));
  for (const doc of docs) if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
  return docs.map((d) => d.toJS() as Obj).filter(Boolean);
}

const kustomization = documentsOf('kustomization.yaml')[0] as unknown as { resources: string[] };
const applied = kustomization.resources.flatMap((file) => documentsOf(file).map((o) => ({ file, o })));
const secret = documentsOf('secret.example.yaml')[0];
const all = [...applied.map((a) => a.o), secret];
const find = (kind: string, name: string) => all.find((o) => o.kind === kind && o.metadata.name === name);
const deployment = (app: string) => find('Deployment', `myelin-${app}`)!;
const containerOf = (app: string) => deployment(app).spec.template.spec.containers[0];
const config = find('ConfigMap', 'myelin-config')!.data as Record<string, string>;

/** Every MYELIN_* / AWS_* name the apps read (their config classes and the libraries they load). */
function declaredVariables(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !/\.(spec|integration-spec|e2e-spec)\.ts$/.test(entry.name)) {
        for (const m of readFileSync(path, 'utf8').matchAll(/\b((?:MYELIN|AWS)_[A-Z0-9_]+)\??!?:\s/g)) names.add(m[1]);
      }
    }
  };
  for (const app of APPS) walk(join(ROOT, 'apps', app, 'src'));
  walk(join(ROOT, 'libs'));
  return names;
}

describe('deploy/kubernetes/platform', () => {
  it('applies every manifest but the example Secret, and every object passes the official schema', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...kustomization.resources, 'secret.example.yaml'].sort()).toEqual(files.sort());
    for (const { file, o } of [...applied, { file: 'secret.example.yaml', o: secret }]) {
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      expect({ file, kind: o.kind, known: Boolean(Model) }).toEqual({ file, kind: o.kind, known: true });
      expect(() => new Model(o).validate()).not.toThrow();
      if (o.kind !== 'Namespace') expect({ file, namespace: o.metadata.namespace }).toEqual({ file, namespace: 'myelin' });
    }
  });

  it('catches a broken object (the schema check is not a formality)', () => {
    const broken = structuredClone(deployment('api'));
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    expect(() => new Deployment(broken).validate()).toThrow(/containerPort/);
  });

  it('runs each app from the one image, probed on /healthz and /readyz, as a non-root user with a read-only root', () => {
    for (const app of APPS) {
      const d = deployment(app);
      const c = containerOf(app);
      expect({ app, image: c.image, args: c.args }).toEqual({ app, image: 'myelin', args: [app] });
      expect(readFileSync(join(ROOT, 'deploy', 'docker', 'entrypoint.sh'), 'utf8')).toMatch(new RegExp(`\\b${app}\\b.*\\) exec node`));
      expect(c.startupProbe.httpGet.path).toBe('/healthz');
      expect(c.livenessProbe.httpGet.path).toBe('/healthz');
      expect(c.readinessProbe.httpGet.path).toBe('/readyz');
      expect(c.ports).toEqual([{ name: 'http', containerPort: Number(config.MYELIN_PORT) }]);
      expect(d.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
      expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
      // With the root read-only, what the apps write goes to volumes: MYELIN_HOME and /tmp.
      expect(c.volumeMounts.map((m: { mountPath: string }) => m.mountPath)).toEqual(expect.arrayContaining([config.MYELIN_HOME, '/tmp']));
      // Labels: the selector picks the pod template, and the Service picks the same pods by port name.
      expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
      const service = find('Service', `myelin-${app}`)!;
      expect(d.spec.template.metadata.labels).toMatchObject(service.spec.selector);
      expect(service.spec.ports).toEqual([{ name: 'http', port: 8000, targetPort: 'http' }]);
      expect(c.envFrom).toEqual([{ configMapRef: { name: 'myelin-config' } }, { secretRef: { name: 'myelin-secrets' } }]);
    }
  });

  it('sets only variables the apps read, and everything distributed mode needs', () => {
    const declared = declaredVariables();
    expect(declared.size).toBeGreaterThan(40);
    const given = [...Object.keys(config), ...Object.keys(secret.stringData)];
    expect(given.filter((name) => !declared.has(name))).toEqual([]);
    for (const needed of ['MYELIN_DATABASE_URL', 'MYELIN_AMQP_URL', 'MYELIN_REDIS_URL']) expect(Object.keys(secret.stringData)).toContain(needed);
    expect(config.MYELIN_BIND).toBe('0.0.0.0'); // the default, 127.0.0.1, is unreachable from other pods
    expect(secret.stringData.MYELIN_DATABASE_URL).toMatch(/^postgres:\/\//);
    expect(secret.stringData.MYELIN_AMQP_URL).toMatch(/^amqp:\/\//);
  });

  it('gives run pods, the scheduler, tracking and pipelines one runs claim with the layout each expects', () => {
    const claim = find('PersistentVolumeClaim', config.MYELIN_K8S_OUTPUTS_CLAIM)!;
    expect(claim.spec.accessModes).toEqual(['ReadWriteMany']); // run pods on any node, several apps
    for (const app of ['scheduler', 'tracking', 'pipelines']) {
      const spec = deployment(app).spec.template.spec;
      const volume = spec.volumes.find((v: Yaml) => v.persistentVolumeClaim?.claimName === claim.metadata.name);
      expect({ app, mounted: Boolean(volume) }).toEqual({ app, mounted: true });
      const mount = containerOf(app).volumeMounts.find((m: Yaml) => m.name === volume.name);
      // Run pods mount <run>/outputs of the claim; tracking's local store reads <runs dir>/<run>/outputs.
      expect({ app, path: mount.mountPath }).toEqual({ app, path: config.MYELIN_RUNS_DIR });
    }
    // Every volume mounted exists, and every claim named exists.
    for (const app of APPS) {
      const spec = deployment(app).spec.template.spec;
      for (const m of containerOf(app).volumeMounts) expect(spec.volumes.map((v: Yaml) => v.name)).toContain(m.name);
      for (const v of spec.volumes) if (v.persistentVolumeClaim) expect(find('PersistentVolumeClaim', v.persistentVolumeClaim.claimName)).toBeDefined();
    }
  });

  it("lets the scheduler (and only it) create, watch and delete every kind of object its executor makes, in the runs' namespace", () => {
    expect(config.MYELIN_EXECUTOR).toBe('kubernetes');
    expect(config.MYELIN_K8S_AUTH).toBe('in-cluster');
    const account = deployment('scheduler').spec.template.spec.serviceAccountName;
    expect(find('ServiceAccount', account)).toBeDefined();
    const binding = all.find((o) => o.kind === 'RoleBinding' && o.subjects.some((s: Yaml) => s.name === account))!;
    expect(binding.metadata.namespace).toBe(config.MYELIN_K8S_NAMESPACE);
    const role = find('Role', binding.roleRef.name)!;
    expect(role.metadata.namespace).toBe(config.MYELIN_K8S_NAMESPACE);
    const allowed = (resource: string, verb: string) => role.rules.some((r: Yaml) => r.resources.includes(resource) && r.verbs.includes(verb));
    // What the executor calls (kubernetes-client.ts, kubernetes.executor.ts): pods and their logs,
    // a Secret per run, headless Services, a Dockerfile ConfigMap per build, Kubeflow jobs.
    const executorSource = ['kubernetes-client.ts', 'kubernetes.executor.ts', 'pod-watch.ts', 'pod-logs.ts']
      .map((f) => readFileSync(join(ROOT, 'apps', 'scheduler', 'src', 'executors', 'kubernetes', f), 'utf8'))
      .join('\n');
    const calls = [...executorSource.matchAll(/\b(create|delete|list|read|watch)Namespaced([A-Z][A-Za-z]+)\b/g)].map(([, verb, what]) => ({ verb, what }));
    expect(calls.length).toBeGreaterThan(4);
    const resourceOf: Record<string, string> = { Pod: 'pods', PodLog: 'pods/log', Secret: 'secrets', Service: 'services', ConfigMap: 'configmaps', CustomObject: 'tfjobs' };
    const verbOf: Record<string, string> = { create: 'create', delete: 'delete', list: 'list', read: 'get', watch: 'watch' };
    for (const { verb, what } of calls) {
      const resource = resourceOf[what];
      expect({ call: `${verb}Namespaced${what}`, known: Boolean(resource) }).toEqual({ call: `${verb}Namespaced${what}`, known: true });
      expect({ resource, verb: verbOf[verb], allowed: allowed(resource, verbOf[verb]) }).toEqual({ resource, verb: verbOf[verb], allowed: true });
    }
    // The pod watch and the log streams go through Watch and Log (paths, not the methods above).
    expect(allowed('pods', 'watch')).toBe(true);
    expect(allowed('pods/log', 'get')).toBe(true);
    // The other apps get no token for the Kubernetes API.
    for (const app of APPS.filter((a) => a !== 'scheduler')) expect(deployment(app).spec.template.spec.automountServiceAccountToken).toBe(false);
  });

  it("routes each app's prefix to its Service, and the rest to the API, as `myelin up` does", () => {
    const ingress = find('Ingress', 'myelin')!;
    const paths = ingress.spec.rules[0].http.paths as Array<{ path: string; backend: { service: { name: string; port: { name: string } } } }>;
    const backendOf = (path: string) => paths.find((p) => p.path === path)?.backend.service.name;
    for (const app of APPS) {
      const bootstrap = readFileSync(join(ROOT, 'apps', app, 'src', 'bootstrap.ts'), 'utf8');
      const prefixes = [...bootstrap.matchAll(/routePrefixes:\s*\[([^\]]*)\]/g)].flatMap(([, list]) => [...list.matchAll(/'([^']+)'/g)].map(([, p]) => p));
      expect(prefixes.length).toBeGreaterThan(0);
      for (const prefix of prefixes) expect({ prefix, service: backendOf(app === 'api' ? '/' : prefix) }).toEqual({ prefix, service: `myelin-${app}` });
    }
    for (const p of paths) expect(find('Service', p.backend.service.name)!.spec.ports.map((port: Yaml) => port.name)).toContain(p.backend.service.port.name);
  });
});
