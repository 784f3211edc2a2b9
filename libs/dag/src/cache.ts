/**
 * Explainable op cache decisions (the Myelin `cache: true` extension). A run's cache key is a content
 * hash of what determines its outputs: the template, the resolved params, the code reference and the
 * image. The key keeps one digest per part (and per param), so a miss can say what changed.
 * Pure: the service stores the keys of finished runs and passes them back as candidates.
 */
import { createHash } from 'node:crypto';
import type { RunStatus } from '@myelin/contracts';
import type { ParamValue } from '@myelin/spec';
import { canonicalJson } from './policy';
import type { Millis } from './types';

export interface CacheInput {
  /** The op's template as resolved for this run (the parsed template, or the content of a path/url template). */
  template: unknown;
  /** Resolved param values (references to upstream outputs already replaced). */
  params: Readonly<Record<string, ParamValue>>;
  /** Commit of the code the run uses. */
  codeRef?: string;
  /** Image the run uses (a digest, or a tag that is never overwritten). */
  image?: string;
}

export interface CacheKey {
  /** sha256 (hex) of everything below. */
  key: string;
  template: string;
  /** sha256 (hex) of each param value. */
  params: Record<string, string>;
  codeRef: string | null;
  image: string | null;
}

export interface CacheCandidate {
  key: CacheKey;
  /** Run id (shown in reasons). */
  run: string | number;
  status: RunStatus;
  /** Newest first when given; otherwise later candidates are newer. */
  finishedAt?: Millis | string;
}

export type CacheMissCode =
  'disabled' | 'unresolved_params' | 'mutable_image' | 'no_candidates' | 'changed' | 'not_succeeded';

export type CacheDecision =
  | { hit: true; key: CacheKey; run: string | number; reason: string }
  | {
      hit: false;
      code: CacheMissCode;
      reason: string;
      key?: CacheKey;
      changes?: string[];
      closest?: string | number;
    };

export interface CacheOptions {
  /** The op's `cache` flag. Default true (the caller asks only for ops with `cache: true`). */
  enabled?: boolean;
  /** Accept `:latest` or untagged images (their content may change under the same name). Default false. */
  allowMutableImage?: boolean;
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

export function cacheKey(input: CacheInput): CacheKey {
  const params: Record<string, string> = {};
  for (const name of Object.keys(input.params).sort())
    params[name] = sha256(canonicalJson(input.params[name]));
  const template = sha256(canonicalJson(input.template ?? null));
  const codeRef = input.codeRef ?? null;
  const image = input.image ?? null;
  const key = sha256(canonicalJson({ v: 1, template, params, codeRef, image }));
  return { key, template, params, codeRef, image };
}

function hasTemplate(v: ParamValue): boolean {
  if (typeof v === 'string') return v.includes('{{');
  if (Array.isArray(v)) return v.some(hasTemplate);
  if (v !== null && typeof v === 'object') return Object.values(v).some(hasTemplate);
  return false;
}

/** An image reference whose content can change under the same name: no digest and no tag, or the `latest` tag. */
export function isMutableImage(image: string): boolean {
  if (image.includes('@sha256:')) return false;
  const last = image.slice(image.lastIndexOf('/') + 1);
  const colon = last.indexOf(':');
  return colon < 0 || last.slice(colon + 1) === 'latest';
}

/** What differs between two keys, in words: `param \`lr\` changed`, `code ref abc -> def`, ... */
export function diffCacheKeys(was: CacheKey, now: CacheKey): string[] {
  const out: string[] = [];
  if (was.template !== now.template) out.push('template changed');
  for (const name of Object.keys(now.params)) {
    if (!(name in was.params)) out.push(`param \`${name}\` added`);
    else if (was.params[name] !== now.params[name]) out.push(`param \`${name}\` changed`);
  }
  for (const name of Object.keys(was.params))
    if (!(name in now.params)) out.push(`param \`${name}\` removed`);
  if (was.codeRef !== now.codeRef)
    out.push(`code ref ${was.codeRef ?? '(none)'} -> ${now.codeRef ?? '(none)'}`);
  if (was.image !== now.image) out.push(`image ${was.image ?? '(none)'} -> ${now.image ?? '(none)'}`);
  return out;
}

const newestFirst = (cs: readonly CacheCandidate[]): CacheCandidate[] => {
  const time = (c: CacheCandidate): number =>
    c.finishedAt === undefined
      ? NaN
      : typeof c.finishedAt === 'number'
        ? c.finishedAt
        : Date.parse(c.finishedAt);
  return cs
    .map((c, i) => ({ c, i, t: time(c) }))
    .sort((a, b) => (Number.isNaN(a.t) || Number.isNaN(b.t) || a.t === b.t ? b.i - a.i : b.t - a.t))
    .map((x) => x.c);
};

/**
 * Hit when a succeeded candidate has the same key (the newest such run); otherwise a miss that says
 * why: caching off, params not fully resolved, a mutable image, no earlier run, or what changed since
 * the newest earlier run.
 */
export function decideCache(
  input: CacheInput,
  candidates: readonly CacheCandidate[],
  options: CacheOptions = {},
): CacheDecision {
  if (options.enabled === false)
    return { hit: false, code: 'disabled', reason: 'caching is off for this op (`cache: true` enables it)' };
  const unresolved = Object.keys(input.params).filter((k) => hasTemplate(input.params[k]));
  if (unresolved.length) {
    return {
      hit: false,
      code: 'unresolved_params',
      reason: `params ${unresolved.map((k) => `\`${k}\``).join(', ')} still hold \`{{ }}\` references: resolve them before computing the key`,
    };
  }
  const key = cacheKey(input);
  if (input.image !== undefined && !options.allowMutableImage && isMutableImage(input.image)) {
    return {
      hit: false,
      code: 'mutable_image',
      key,
      reason: `image \`${input.image}\` can change under the same name (no digest, or the latest tag): outputs cannot be reused safely`,
    };
  }
  const ordered = newestFirst(candidates);
  const same = ordered.filter((c) => c.key.key === key.key);
  const hit = same.find((c) => c.status === 'succeeded' || c.status === 'done');
  if (hit) {
    const parts = [`${Object.keys(key.params).length} params`, 'template'];
    if (key.codeRef) parts.push(`code ref ${key.codeRef}`);
    if (key.image) parts.push(`image ${key.image}`);
    return {
      hit: true,
      key,
      run: hit.run,
      reason: `run ${hit.run} succeeded with the same ${parts.join(', ')} (key ${key.key.slice(0, 12)})`,
    };
  }
  if (same.length) {
    return {
      hit: false,
      code: 'not_succeeded',
      key,
      closest: same[0].run,
      reason: `run ${same[0].run} had the same inputs but ended ${same[0].status}`,
    };
  }
  if (ordered.length === 0)
    return { hit: false, code: 'no_candidates', key, reason: 'no earlier run of this op to reuse' };
  const closest = ordered.find((c) => c.status === 'succeeded' || c.status === 'done') ?? ordered[0];
  const changes = diffCacheKeys(closest.key, key);
  return {
    hit: false,
    code: 'changed',
    key,
    closest: closest.run,
    changes,
    reason: `since run ${closest.run}: ${changes.join(', ')}`,
  };
}
