import { createHash } from 'node:crypto';
import type { Build } from '@myelin/spec';

/**
 * Builds (`kind: build`, and the `build` section of other kinds), as pure functions: whether a run
 * needs an image built, the Dockerfile generated for it, the cache key that lets identical builds
 * share one image, and what the local executor says it did not apply. No I/O (decision 0014).
 */

/** The `build` section as libs/spec compiles it (stored with the run's spec). */
export type BuildSection = Build;

/** Where the code sits in a built image (and the run pod's working directory). */
export const IMAGE_CODE_DIR = '/myelin/code';

export interface BuildPlan {
  /** sha256 (hex) of the project, the build content and the code reference: the cache key and the image tag. */
  key: string;
  /** The Dockerfile generated from image, env_vars, lang_env and build_steps; null when the user's `dockerfile` is used. */
  dockerfile: string | null;
  /** The user's Dockerfile, relative to the build context. */
  dockerfilePath: string | null;
  /** Sub-path of the code used as the build context ('' = the whole code). */
  context: string;
  /** Build again even when an image with this key exists (`nocache: true`). */
  nocache: boolean;
  /**
   * What the key took as the code's version: `commit:<sha>`; without one, `run:<uuid>` when the
   * build context holds the run's code (no reuse: an upload has no version), or `none` when it
   * holds no code (no code claim: every run's context is the same empty folder, so identical build
   * sections share one image).
   */
  codeRef: string;
  /** `kind: build`: the run is the build; no run pod follows it. */
  buildOnly: boolean;
}

/** A plan's code reference as the run's log says it: `commit 3f2a9c1`, `run <uuid>`, `no code in the build context`. */
export function describeCodeRef(codeRef: string): string {
  return codeRef === 'none' ? 'no code in the build context' : codeRef.replace(':', ' ');
}

/** The compiled file the scheduler holds (`rendered` when templates were filled, else `raw`). */
function fileOf(spec: Record<string, unknown> | null | undefined): Record<string, unknown> {
  const s = spec ?? {};
  const file = (s['rendered'] ?? s['raw'] ?? s) as Record<string, unknown> | null;
  return file && typeof file === 'object' ? file : {};
}

export function buildSectionOf(spec: Record<string, unknown> | null | undefined): BuildSection | null {
  const build = fileOf(spec)['build'];
  return build && typeof build === 'object' ? (build as BuildSection) : null;
}

/** A build section that asks for more than an existing image: something must be built. */
function needsImage(build: BuildSection): boolean {
  return Boolean(build.dockerfile || build.build_steps?.length || build.env_vars?.length || build.lang_env);
}

/** Deterministic JSON (sorted keys), so the same content always hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** What identifies the built content: every field that changes the image (not nocache, not backend, not where it is scheduled). */
export function buildKey(project: string, build: BuildSection, codeRef: string): string {
  const content = {
    image: build.image,
    dockerfile: build.dockerfile,
    ref: build.ref,
    context: build.context,
    build_steps: build.build_steps,
    env_vars: build.env_vars,
    lang_env: build.lang_env,
  };
  return createHash('sha256').update(canonical({ project, content, codeRef })).digest('hex');
}

/**
 * The image build a run needs, or null: `kind: build` always builds; other kinds build when their
 * `build` section asks for more than an image (build_steps, env_vars, lang_env, a dockerfile). An
 * image alone is used as it is. The code's version is the build's `commit` (a branch moves, so it
 * is no version); without one, the code is this run's upload and the key is unique to the run,
 * unless the build context holds no code at all (`codeInContext` false: the executor has no code
 * claim), where the build section alone says what is built.
 */
export function planBuild(
  run: { runUuid: string; project: string; kind: string; spec: Record<string, unknown> | null },
  defaultImage: string,
  codeInContext = true,
): BuildPlan | null {
  const build = buildSectionOf(run.spec);
  const buildOnly = run.kind === 'build';
  if (!build) return buildOnly ? planFor(run, {}, defaultImage, true, codeInContext) : null;
  if (!buildOnly && !needsImage(build)) return null;
  return planFor(run, build, defaultImage, buildOnly, codeInContext);
}

/** planBuild with what the scheduler's configuration says: the default base image, and whether a build context holds the run's code (a code claim). */
export function planRunBuild(
  run: { runUuid: string; project: string; kind: string; spec: Record<string, unknown> | null },
  env: { MYELIN_K8S_DEFAULT_IMAGE: string; MYELIN_K8S_CODE_CLAIM?: string },
): BuildPlan | null {
  return planBuild(run, env.MYELIN_K8S_DEFAULT_IMAGE, Boolean(env.MYELIN_K8S_CODE_CLAIM));
}

function planFor(run: { runUuid: string; project: string }, build: BuildSection, defaultImage: string, buildOnly: boolean, codeInContext: boolean): BuildPlan {
  const codeRef = build.commit ? `commit:${build.commit}` : codeInContext ? `run:${run.runUuid}` : 'none';
  return {
    key: buildKey(run.project, build, codeRef),
    dockerfile: build.dockerfile ? null : generateDockerfile(build, defaultImage),
    dockerfilePath: build.dockerfile ?? null,
    context: (build.context ?? '').replace(/^\/+|\/+$/g, ''),
    nocache: build.nocache === true,
    codeRef,
    buildOnly,
  };
}

/** A Dockerfile string literal: JSON quoting is valid ENV syntax and keeps spaces, quotes and `$`. */
const quote = (value: string) => JSON.stringify(value);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The Dockerfile of a build without one of its own: FROM the image, the locale (`lang_env` sets
 * LC_ALL, LC_CTYPE, LANG and LANGUAGE, as Polyaxon did), the env_vars, the code copied into
 * /myelin/code (the working directory), then one RUN per build step (so steps see the code, e.g.
 * `pip install -r requirements.txt`).
 */
export function generateDockerfile(build: BuildSection, defaultImage: string): string {
  const lines = [`FROM ${build.image ?? defaultImage}`];
  const env: Array<[string, string]> = [];
  if (build.lang_env) for (const name of ['LC_ALL', 'LC_CTYPE', 'LANG', 'LANGUAGE']) env.push([name, build.lang_env]);
  for (const [name, value] of build.env_vars ?? []) {
    if (!ENV_NAME.test(name)) throw new Error(`build.env_vars: ${JSON.stringify(name)} is not a valid environment variable name`);
    env.push([name, String(value)]);
  }
  for (const [name, value] of env) lines.push(`ENV ${name}=${quote(value)}`);
  lines.push(`WORKDIR ${IMAGE_CODE_DIR}`, `COPY . ${IMAGE_CODE_DIR}`);
  for (const step of build.build_steps ?? []) {
    // One RUN per step; the lines of a multi-line step (a YAML block) are commands run in turn
    // (`&&`), except where a line continues itself with a backslash.
    const parts = step.split('\n').map((l) => l.trimEnd()).filter(Boolean);
    lines.push(`RUN ${parts.map((l, i) => (i === parts.length - 1 ? l : l.endsWith('\\') ? `${l}\n    ` : `${l} && \\\n    `)).join('')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `registry/owner-project:<key>` (a tag holds up to 128 characters; the first 40 of the hash are ample). */
export function imageReference(registry: string, project: string, key: string): string {
  const repository = project.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'run';
  return `${registry.replace(/\/+$/, '')}/${repository}:${key.slice(0, 40)}`;
}

/**
 * What the local executor does not apply of a `build` section (it runs jobs in the host
 * environment, with no container engine), as the sentence recorded on the run; null when the run
 * has no build section worth mentioning.
 */
export function localBuildNotice(spec: Record<string, unknown> | null | undefined): string | null {
  const build = buildSectionOf(spec);
  if (!build) return null;
  const parts: string[] = [];
  if (build.image) parts.push(`image ${build.image}`);
  if (build.dockerfile) parts.push(`dockerfile ${build.dockerfile}`);
  if (build.build_steps?.length) parts.push(`build steps (${build.build_steps.length})`);
  if (build.env_vars?.length) parts.push(`env_vars (${build.env_vars.map(([k]) => k).join(', ')})`);
  if (build.lang_env) parts.push(`lang_env ${build.lang_env}`);
  if (!parts.length) return null;
  const list = parts.length === 1 ? parts[0] : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`;
  return `${list} ${parts.length === 1 ? 'was' : 'were'} not applied: the local executor runs in the host environment`;
}

/** Why a `kind: build` run cannot run on an executor without a container engine. */
export const BUILD_NEEDS_KUBERNETES =
  'a kind: build run needs the Kubernetes executor (MYELIN_EXECUTOR=kubernetes): this scheduler runs the local executor, which has no container engine to build images';
