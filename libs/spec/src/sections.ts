/** `environment`, `build`, `run` and `logging` sections. */
import {
  asMap,
  asSeq,
  checkKeys,
  Checker,
  entry,
  field,
  isNull,
  join,
  readAny,
  readBool,
  readEnum,
  readInt,
  readNum,
  readStr,
  readStrList,
  readStrMap,
  required,
} from './checker';
import {
  Build,
  BuildBackend,
  DistributedFramework,
  Environment,
  K8sObject,
  Logging,
  LogLevel,
  OutputsRefs,
  PodEnvironment,
  ReplicaEnvironment,
  Replicas,
  ResourceRequirement,
  Resources,
  Run,
} from './types';
import { describeNode, YMap, YNode } from './yaml-tree';

// ---------------------------------------------------------------- logging

const LOG_LEVELS: readonly LogLevel[] = ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'];

export function readLogging(c: Checker, node: YNode | undefined, path: string): Logging | undefined {
  const map = asMap(c, node, path);
  if (!map) return undefined;
  checkKeys(c, map, path, ['level', 'formatter']);
  const out: Logging = {};
  const level = readEnum(c, field(map, 'level'), join(path, 'level'), LOG_LEVELS, { warn: 'WARNING', fatal: 'CRITICAL' });
  if (level) out.level = level;
  const formatter = readStr(c, field(map, 'formatter'), join(path, 'formatter'));
  if (formatter !== undefined) out.formatter = formatter;
  return out;
}

// ---------------------------------------------------------------- environment

const RESOURCE_KEYS = ['cpu', 'memory', 'gpu', 'tpu'] as const;

function readRequirement(c: Checker, node: YNode | undefined, path: string): ResourceRequirement | undefined {
  const map = asMap(c, node, path, 'a mapping {requests, limits}');
  if (!map) return undefined;
  checkKeys(c, map, path, ['requests', 'limits']);
  const out: ResourceRequirement = {};
  const req = readNum(c, field(map, 'requests'), join(path, 'requests'), { min: 0 });
  const lim = readNum(c, field(map, 'limits'), join(path, 'limits'), { min: 0 });
  if (req !== undefined) out.requests = req;
  if (lim !== undefined) out.limits = lim;
  if (req !== undefined && lim !== undefined && req > lim) {
    c.error(field(map, 'requests')!, join(path, 'requests'), `requests (${req}) cannot exceed limits (${lim})`);
  }
  return out;
}

function readResources(c: Checker, node: YNode | undefined, path: string): Resources | undefined {
  const map = asMap(c, node, path);
  if (!map) return undefined;
  checkKeys(c, map, path, RESOURCE_KEYS, {
    gpus: 'did you mean `gpu`?',
    cpus: 'did you mean `cpu`?',
    mem: 'did you mean `memory`?',
  });
  const out: Resources = {};
  for (const k of RESOURCE_KEYS) {
    const r = readRequirement(c, field(map, k), join(path, k));
    if (r && (r.requests !== undefined || r.limits !== undefined)) out[k] = r;
  }
  return out;
}

function readK8sObject(c: Checker, node: YNode | undefined, path: string): K8sObject | undefined {
  const map = asMap(c, node, path);
  if (!map) return undefined;
  return readAny(c, map, path) as K8sObject;
}

function readOutputsRefs(c: Checker, node: YNode | undefined, path: string): OutputsRefs | undefined {
  const map = asMap(c, node, path, 'a mapping {jobs, experiments}');
  if (!map) return undefined;
  checkKeys(c, map, path, ['jobs', 'experiments']);
  const out: OutputsRefs = {};
  for (const k of ['jobs', 'experiments'] as const) {
    const seq = asSeq(c, field(map, k), join(path, k));
    if (!seq) continue;
    const vals: Array<string | number> = [];
    seq.items.forEach((it, i) => {
      if (it.t === 'scalar' && (typeof it.value === 'string' || (typeof it.value === 'number' && Number.isInteger(it.value)))) {
        vals.push(it.value);
      } else c.error(it, join(join(path, k), i), `expected an id or a name, got ${describeNode(it)}`);
    });
    out[k] = vals;
  }
  return out;
}

const POD_KEYS = [
  'resources',
  'node_selector',
  'tolerations',
  'affinity',
  'annotations',
  'labels',
  'service_account',
  'image_pull_secrets',
  'max_restarts',
  'secret_refs',
  'config_map_refs',
  'configmap_refs',
  'data_refs',
  'artifact_refs',
  'outputs',
  'persistence',
] as const;

export const POD_HINTS: Record<string, string> = {
  n_workers: 'distributed settings go under `environment.replicas`',
  n_ps: 'distributed settings go under `environment.replicas`',
  master_resources: 'the master uses `environment.resources`',
  tensorflow: 'the 2018 framework blocks were replaced by `framework: tensorflow` with `environment.replicas`',
  pytorch: 'the 2018 framework blocks were replaced by `framework: pytorch` with `environment.replicas`',
  mxnet: 'the 2018 framework blocks were replaced by `framework: mxnet` with `environment.replicas`',
  horovod: 'the 2018 framework blocks were replaced by `framework: horovod` with `environment.replicas`',
  run_config: '`run_config` belongs to the 2018 model files and is not supported',
  nodeSelector: 'did you mean `node_selector`?',
  serviceAccount: 'did you mean `service_account`?',
  imagePullSecrets: 'did you mean `image_pull_secrets`?',
};

function readPodFields(c: Checker, map: YMap, path: string, out: PodEnvironment): void {
  const res = readResources(c, field(map, 'resources'), join(path, 'resources'));
  if (res) out.resources = res;
  const ns = readStrMap(c, field(map, 'node_selector'), join(path, 'node_selector'));
  if (ns) out.node_selector = ns;
  const tolSeq = asSeq(c, field(map, 'tolerations'), join(path, 'tolerations'), 'a list of tolerations');
  if (tolSeq) {
    out.tolerations = [];
    tolSeq.items.forEach((it, i) => {
      const o = readK8sObject(c, it, join(join(path, 'tolerations'), i));
      if (o) out.tolerations!.push(o);
      else if (isNull(it)) c.error(it, join(join(path, 'tolerations'), i), 'expected a toleration mapping, got null');
    });
  }
  const aff = readK8sObject(c, field(map, 'affinity'), join(path, 'affinity'));
  if (aff) out.affinity = aff;
  const ann = readStrMap(c, field(map, 'annotations'), join(path, 'annotations'));
  if (ann) out.annotations = ann;
  const labels = readStrMap(c, field(map, 'labels'), join(path, 'labels'));
  if (labels) out.labels = labels;
  const sa = readStr(c, field(map, 'service_account'), join(path, 'service_account'), { nonEmpty: true });
  if (sa !== undefined) out.service_account = sa;
  const ips = readStrList(c, field(map, 'image_pull_secrets'), join(path, 'image_pull_secrets'));
  if (ips) out.image_pull_secrets = ips;
  const mr = readInt(c, field(map, 'max_restarts'), join(path, 'max_restarts'), { min: 0 });
  if (mr !== undefined) out.max_restarts = mr;
  const sr = readStrList(c, field(map, 'secret_refs'), join(path, 'secret_refs'));
  if (sr) out.secret_refs = sr;

  const cmr = readStrList(c, field(map, 'config_map_refs'), join(path, 'config_map_refs'));
  const cmrOld = readStrList(c, field(map, 'configmap_refs'), join(path, 'configmap_refs'));
  if (cmr && cmrOld) {
    c.error(entry(map, 'configmap_refs')!.keyLoc, join(path, 'configmap_refs'), 'use only `config_map_refs` (`configmap_refs` is its deprecated spelling)');
  }
  if (cmr ?? cmrOld) out.config_map_refs = cmr ?? cmrOld;

  const dr = readStrList(c, field(map, 'data_refs'), join(path, 'data_refs'));
  if (dr) out.data_refs = dr;
  const ar = readStrList(c, field(map, 'artifact_refs'), join(path, 'artifact_refs'));
  if (ar) out.artifact_refs = ar;

  const pers = asMap(c, field(map, 'persistence'), join(path, 'persistence'), 'a mapping {data, outputs}');
  if (pers) {
    const pp = join(path, 'persistence');
    checkKeys(c, pers, pp, ['data', 'outputs']);
    if (dr || ar) {
      c.error(entry(map, 'persistence')!.keyLoc, pp, 'the deprecated `persistence` cannot be combined with `data_refs` or `artifact_refs`');
    }
    const data = readStrList(c, field(pers, 'data'), join(pp, 'data'));
    const outputs = readStr(c, field(pers, 'outputs'), join(pp, 'outputs'));
    if (data && !dr) out.data_refs = data;
    if (outputs !== undefined && !ar) out.artifact_refs = [outputs];
  }
  const outs = readOutputsRefs(c, field(map, 'outputs'), join(path, 'outputs'));
  if (outs) out.outputs = outs;
}

export function readPodEnvironment(c: Checker, node: YNode | undefined, path: string, hints: Record<string, string> = {}): PodEnvironment | undefined {
  const map = asMap(c, node, path);
  if (!map) return undefined;
  checkKeys(c, map, path, POD_KEYS, { ...POD_HINTS, replicas: 'replicas are only allowed for `kind: experiment` or `kind: group`', ...hints });
  const out: PodEnvironment = {};
  readPodFields(c, map, path, out);
  return out;
}

const FRAMEWORK_REPLICA_KEYS: Record<DistributedFramework | 'mpi', readonly string[]> = {
  tensorflow: ['n_workers', 'n_ps', 'delay_workers_by_global_step', 'default_worker', 'default_ps', 'worker', 'ps'],
  mxnet: ['n_workers', 'n_ps', 'default_worker', 'default_ps', 'worker', 'ps'],
  pytorch: ['n_workers', 'default_worker', 'worker'],
  horovod: ['n_workers', 'default_worker', 'worker'],
  mpi: ['n_workers', 'default_worker'],
};
const ALL_REPLICA_KEYS = FRAMEWORK_REPLICA_KEYS.tensorflow;
export const DISTRIBUTED_FRAMEWORKS: readonly DistributedFramework[] = ['tensorflow', 'mxnet', 'pytorch', 'horovod'];

function readReplicaList(c: Checker, node: YNode | undefined, path: string, n: number | undefined, role: string): ReplicaEnvironment[] | undefined {
  const seq = asSeq(c, node, path, `a list of ${role} environments with an \`index\``);
  if (!seq) return undefined;
  const out: ReplicaEnvironment[] = [];
  const seen = new Set<number>();
  seq.items.forEach((it, i) => {
    const p = join(path, i);
    const map = asMap(c, it, p);
    if (!map) return;
    checkKeys(c, map, p, ['index', ...POD_KEYS], POD_HINTS);
    const idxNode = required(c, map, p, 'index', `which ${role} this entry configures`);
    const index = readInt(c, idxNode, join(p, 'index'), { min: 0 });
    if (index === undefined) return;
    if (n !== undefined && index >= n) {
      c.error(idxNode!, join(p, 'index'), `index ${index} is out of range: there are ${n} ${role}s (0..${n - 1})`);
    }
    if (seen.has(index)) c.error(idxNode!, join(p, 'index'), `index ${index} is configured twice`);
    seen.add(index);
    const env: ReplicaEnvironment = { index };
    readPodFields(c, map, p, env);
    out.push(env);
  });
  return out;
}

/**
 * `environment.replicas`; the allowed keys depend on the framework (tensorflow/mxnet have ps,
 * pytorch/horovod only workers) and on `backend: mpi` (workers, no indexed entries).
 */
export function readReplicas(
  c: Checker,
  node: YNode | undefined,
  path: string,
  framework: { value: string | undefined; node: YNode | undefined },
  backend: string | undefined,
): Replicas | undefined {
  const map = asMap(c, node, path);
  if (!map) return undefined;
  let allowed: readonly string[] = ALL_REPLICA_KEYS;
  let label = '';
  const fw = framework.value;
  if (fw === undefined) {
    c.error(node!, path, 'distributed replicas need a `framework` (tensorflow, mxnet, pytorch or horovod)');
  } else if (fw === 'mpi') {
    c.error(framework.node!, 'framework', '`mpi` is a backend: use `backend: mpi` with the framework your code uses (e.g. horovod or tensorflow)');
  } else if (!(DISTRIBUTED_FRAMEWORKS as readonly string[]).includes(fw)) {
    c.error(framework.node!, 'framework', `distributed replicas are supported for ${DISTRIBUTED_FRAMEWORKS.join(', ')}, not \`${fw}\``);
  } else {
    allowed = FRAMEWORK_REPLICA_KEYS[fw as DistributedFramework];
    label = fw;
  }
  if (backend === 'mpi') {
    allowed = allowed.filter((k) => FRAMEWORK_REPLICA_KEYS.mpi.includes(k));
    label = label ? `${label} with backend mpi` : 'backend mpi';
  }
  const hints: Record<string, string> = { ps_resources: 'parameter-server resources go under `default_ps.resources`' };
  for (const k of ALL_REPLICA_KEYS) {
    if (!allowed.includes(k)) {
      hints[k] =
        (k === 'n_ps' || k === 'default_ps' || k === 'ps') && label
          ? `${label} has no parameter servers`
          : `not available for ${label || 'this framework'}`;
    }
  }
  checkKeys(c, map, path, allowed, hints);
  const out: Replicas = {};
  const nw = readInt(c, field(map, 'n_workers'), join(path, 'n_workers'), { min: 0 });
  if (nw !== undefined) out.n_workers = nw;
  const nps = readInt(c, field(map, 'n_ps'), join(path, 'n_ps'), { min: 0 });
  if (nps !== undefined) out.n_ps = nps;
  const delay = readBool(c, field(map, 'delay_workers_by_global_step'), join(path, 'delay_workers_by_global_step'));
  if (delay !== undefined) out.delay_workers_by_global_step = delay;
  const dw = readPodEnvironment(c, field(map, 'default_worker'), join(path, 'default_worker'));
  if (dw) out.default_worker = dw;
  const dps = readPodEnvironment(c, field(map, 'default_ps'), join(path, 'default_ps'));
  if (dps) out.default_ps = dps;
  const w = readReplicaList(c, field(map, 'worker'), join(path, 'worker'), nw, 'worker');
  if (w) out.worker = w;
  const ps = readReplicaList(c, field(map, 'ps'), join(path, 'ps'), nps, 'ps');
  if (ps) out.ps = ps;
  return out;
}

export function readEnvironment(
  c: Checker,
  node: YNode | undefined,
  path: string,
  opts: { replicas: boolean; framework?: { value: string | undefined; node: YNode | undefined }; backend?: string },
): Environment | undefined {
  const map = asMap(c, node, path);
  if (!map) return undefined;
  const allowed: string[] = [...POD_KEYS];
  if (opts.replicas) allowed.push('replicas');
  checkKeys(c, map, path, allowed, { ...POD_HINTS, replicas: 'replicas are only allowed for `kind: experiment` or `kind: group`' });
  const out: Environment = {};
  readPodFields(c, map, path, out);
  if (opts.replicas && !isNull(field(map, 'replicas'))) {
    const r = readReplicas(c, field(map, 'replicas'), join(path, 'replicas'), opts.framework ?? { value: undefined, node: undefined }, opts.backend);
    if (r) out.replicas = r;
  }
  return out;
}

// ---------------------------------------------------------------- build

export const BUILD_FIELDS = [
  'image',
  'dockerfile',
  'ref',
  'context',
  'build_steps',
  'env_vars',
  'lang_env',
  'commit',
  'branch',
  'nocache',
  'backend',
] as const;
const BUILD_BACKENDS: readonly BuildBackend[] = ['native', 'kaniko', 'other'];

function imageError(image: string): string | undefined {
  if (/\s/.test(image)) return 'a docker image cannot contain spaces';
  const parts = image.split(':');
  if (parts.length > 3) return 'a docker image has at most a registry port and a tag (`host:port/name:tag`)';
  if (parts.length === 3 && (!parts[1].includes('/') || parts[1].startsWith('/'))) {
    return 'expected `host:port/name:tag`';
  }
  return undefined;
}

/** Reads build fields from `map` (the `build` section, or the top level of a `kind: build` file). */
export function readBuildFields(c: Checker, map: YMap, path: string, withEnvironment: boolean): Build {
  const out: Build = {};
  const image = readStr(c, field(map, 'image'), join(path, 'image'));
  const dockerfile = readStr(c, field(map, 'dockerfile'), join(path, 'dockerfile'));
  let ref: string | undefined;
  const refNode = field(map, 'ref');
  if (refNode && !isNull(refNode)) {
    if (refNode.t === 'scalar' && typeof refNode.value === 'number' && Number.isInteger(refNode.value)) ref = String(refNode.value);
    else ref = readStr(c, refNode, join(path, 'ref'));
  }
  for (const [k, v] of [
    ['image', image],
    ['dockerfile', dockerfile],
  ] as const) {
    const n = field(map, k);
    if (v !== undefined && v.trim() === '') c.error(n!, join(path, k), 'must not be empty');
    else if (v === undefined && n && n.t === 'scalar' && n.value === null) c.error(n, join(path, k), 'must not be empty');
  }
  if (image !== undefined && image.trim() !== '' && !image.includes('{{')) {
    const err = imageError(image);
    if (err) c.error(field(map, 'image')!, join(path, 'image'), `invalid docker image ${JSON.stringify(image)}: ${err}`);
  }
  const set = (['image', 'dockerfile', 'ref'] as const).filter((k) => {
    const v = { image, dockerfile, ref }[k];
    return v !== undefined && v !== '';
  });
  if (set.length > 1) {
    const k = set[1];
    c.error(entry(map, k)!.keyLoc, join(path, k), `use only one of \`image\`, \`dockerfile\` or \`ref\`, not ${set.map((s) => `\`${s}\``).join(' and ')}`);
  } else if (set.length === 0 && !['image', 'dockerfile', 'ref'].some((k) => map.entries.has(k))) {
    c.error(map, path || 'build', 'a build needs an `image`, a `dockerfile` or a `ref`');
  }
  if (image) out.image = image;
  if (dockerfile) out.dockerfile = dockerfile;
  if (ref) out.ref = ref;
  const context = readStr(c, field(map, 'context'), join(path, 'context'));
  if (context !== undefined) out.context = context;
  const steps = readStrList(c, field(map, 'build_steps'), join(path, 'build_steps'));
  if (steps) out.build_steps = steps;
  const evNode = field(map, 'env_vars');
  if (evNode && evNode.t === 'map') {
    c.error(evNode, join(path, 'env_vars'), 'expected a list of [KEY, VALUE] pairs, e.g. `- [LC_ALL, C.UTF-8]`');
  } else {
    const ev = asSeq(c, evNode, join(path, 'env_vars'), 'a list of [KEY, VALUE] pairs');
    if (ev) {
      out.env_vars = [];
      ev.items.forEach((it, i) => {
        const p = join(join(path, 'env_vars'), i);
        if (it.t !== 'seq' || it.items.length !== 2) {
          c.error(it, p, `expected a [KEY, VALUE] pair, got ${describeNode(it)}${it.t === 'seq' ? ` of ${it.items.length} elements` : ''}`);
          return;
        }
        const key = readStr(c, it.items[0], join(p, 0), { nonEmpty: true, templates: false });
        const valNode = it.items[1];
        let val: string | undefined;
        if (valNode.t === 'scalar' && valNode.value === null) val = '';
        else val = readStr(c, valNode, join(p, 1), { coerce: true });
        if (key !== undefined && val !== undefined) out.env_vars!.push([key, val]);
      });
    }
  }
  const lang = readStr(c, field(map, 'lang_env'), join(path, 'lang_env'));
  if (lang !== undefined) out.lang_env = lang;
  const commit = readStr(c, field(map, 'commit'), join(path, 'commit'), { coerce: true });
  const branch = readStr(c, field(map, 'branch'), join(path, 'branch'), { coerce: true });
  if (commit !== undefined && branch !== undefined) {
    c.error(entry(map, 'branch')!.keyLoc, join(path, 'branch'), 'use either `commit` or `branch`, not both');
  }
  if (commit !== undefined) out.commit = commit;
  if (branch !== undefined) out.branch = branch;
  const nocache = readBool(c, field(map, 'nocache'), join(path, 'nocache'));
  if (nocache !== undefined) out.nocache = nocache;
  const backend = readEnum(c, field(map, 'backend'), join(path, 'backend'), BUILD_BACKENDS);
  if (backend) out.backend = backend;
  if (withEnvironment) {
    const env = readPodEnvironment(c, field(map, 'environment'), join(path, 'environment'));
    if (env) out.environment = env;
  }
  return out;
}

export function readBuild(c: Checker, node: YNode | undefined, path: string): Build | undefined {
  const map = asMap(c, node, path);
  if (!map) return undefined;
  checkKeys(c, map, path, [...BUILD_FIELDS, 'environment'], {
    steps: 'the 2018 `steps` are now `build_steps`',
    cmd: 'the command goes in `run.cmd`',
    docker_file: 'did you mean `dockerfile`?',
  });
  return readBuildFields(c, map, path, true);
}

// ---------------------------------------------------------------- run

export function readRun(c: Checker, node: YNode | undefined, path: string): Run | undefined {
  const map = asMap(c, node, path, 'a mapping {cmd}');
  if (!map) return undefined;
  const legacy = 'the 2018 `run.image`/`run.steps` form moved to the `build` section (`build.image`, `build.build_steps`)';
  checkKeys(c, map, path, ['cmd'], {
    image: legacy,
    steps: legacy,
    build_steps: legacy,
    env_vars: 'environment variables of the image go in `build.env_vars`',
    command: 'did you mean `cmd`?',
  });
  const cmdNode = required(c, map, path, 'cmd', 'a string or a list of strings');
  if (!cmdNode) return undefined;
  const p = join(path, 'cmd');
  if (cmdNode.t === 'seq') {
    if (cmdNode.items.length === 0) {
      c.error(cmdNode, p, 'must list at least one command');
      return undefined;
    }
    const cmds: string[] = [];
    cmdNode.items.forEach((it, i) => {
      const s = readStr(c, it, join(p, i), { nonEmpty: true });
      if (s !== undefined) cmds.push(s.trim());
      else if (isNull(it)) c.error(it, join(p, i), 'expected a command, got null');
    });
    return { cmd: cmds };
  }
  const s = readStr(c, cmdNode, p, { nonEmpty: true });
  if (s === undefined) return undefined;
  return { cmd: s.trim() };
}

