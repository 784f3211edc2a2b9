import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A fake API server for tests: an in-process HTTP server that speaks the parts of the
 * Kubernetes REST and watch protocol the executor uses, so the real @kubernetes/client-node runs
 * against it unchanged. It is not a cluster: nothing schedules or runs pods; tests move pods
 * through their phases with `setPodStatus` and write their output with `appendLog`.
 *
 * - list / create / get / delete for namespaced core resources (`/api/v1/namespaces/{ns}/{resource}`)
 *   and custom resources (`/apis/{group}/{version}/namespaces/{ns}/{plural}`), with equality label
 *   selectors, resourceVersions from one global counter, 404 and 409 as `Status` objects;
 * - watch (`?watch=true` or `?watch=1`): chunked JSON lines (`{"type","object"}`) replayed from
 *   the requested resourceVersion; a version older than the retained history gets an ERROR event
 *   carrying a 410 `Status` (as the real server does), or an HTTP 410 with `goneAsHttpStatus`;
 * - pod logs (`/pods/{name}/log`): `timestamps`, `sinceTime`, `follow` (kept open until the
 *   container terminates), 400 while the container is waiting;
 * - fault injection: `compact()` forgets the history (next watch from an old version: 410),
 *   `dropWatches()` and `dropLogs()` cut open connections mid-stream.
 */

export type Obj = Record<string, unknown> & { metadata: Record<string, unknown> & { name: string; namespace?: string; labels?: Record<string, string>; resourceVersion?: string } };

interface WatchEvent {
  rv: number;
  key: string; // collection key: `${collection}`
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: Obj;
}

interface LogLine {
  ts: string;
  text: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body?: unknown;
}

const KINDS: Record<string, string> = { pods: 'Pod', services: 'Service', secrets: 'Secret', configmaps: 'ConfigMap' };

export class FakeApiServer {
  private server?: Server;
  private rv = 1000;
  /** collection key -> name -> object */
  private readonly store = new Map<string, Map<string, Obj>>();
  private history: WatchEvent[] = [];
  private oldestRetained = 0;
  private readonly watchers = new Set<{ key: string; selector: Record<string, string>; res: ServerResponse }>();
  private readonly logs = new Map<string, LogLine[]>();
  private readonly logFollowers = new Set<{ key: string; res: ServerResponse; since: string }>();
  private readonly sockets = new Set<Socket>();
  private clock = Date.parse('2026-01-01T00:00:00Z');
  readonly requests: RecordedRequest[] = [];
  /** Fault injection: answer matching requests with this status (e.g. a 500 on DELETE) while it returns a number. */
  fail?: (request: RecordedRequest) => number | undefined;
  /** Answer a watch from a compacted version with HTTP 410 instead of an ERROR event. */
  goneAsHttpStatus = false;
  url = '';

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  // ------------------------------------------------------------------ test controls

  get(collection: string, name: string): Obj | undefined {
    return this.store.get(collection)?.get(name);
  }

  list(collection: string): Obj[] {
    return [...(this.store.get(collection)?.values() ?? [])];
  }

  /** Replace a pod's status (as the kubelet would) and tell the watchers. */
  setPodStatus(namespace: string, name: string, status: Record<string, unknown>): void {
    const key = `core/${namespace}/pods`;
    const pod = this.store.get(key)?.get(name);
    if (!pod) throw new Error(`fake API server: no pod ${namespace}/${name}`);
    const next = { ...pod, status, metadata: { ...pod.metadata } } as Obj;
    this.put(key, next, 'MODIFIED');
    // Followers of a container that terminated get the end of the stream.
    const terminated = ((status['containerStatuses'] as Array<{ state?: { terminated?: unknown } }> | undefined) ?? []).some((c) => c.state?.terminated);
    if (terminated) for (const f of [...this.logFollowers]) if (f.key === `${namespace}/${name}`) this.endFollower(f);
  }

  /** The container writes a line (timestamped now, one millisecond after the previous line). */
  appendLog(namespace: string, pod: string, text: string): void {
    const key = `${namespace}/${pod}`;
    this.clock += 1;
    const line = { ts: new Date(this.clock).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z').replace(/0+Z$/, 'Z').replace(/\.Z$/, 'Z'), text };
    if (!this.logs.has(key)) this.logs.set(key, []);
    this.logs.get(key)?.push(line);
    for (const f of this.logFollowers) if (f.key === key) f.res.write(`${line.ts} ${line.text}\n`);
  }

  /** Forget the watch history: a watch from any earlier resourceVersion now gets 410 Gone. */
  compact(): void {
    this.history = [];
    this.oldestRetained = this.rv;
  }

  /** Cut every open watch connection without a proper end (a dropped TCP connection). */
  dropWatches(): number {
    const n = this.watchers.size;
    for (const w of [...this.watchers]) {
      this.watchers.delete(w);
      w.res.socket?.destroy();
    }
    return n;
  }

  dropLogs(): number {
    const n = this.logFollowers.size;
    for (const f of [...this.logFollowers]) {
      this.logFollowers.delete(f);
      f.res.socket?.destroy();
    }
    return n;
  }

  openWatches(): number {
    return this.watchers.size;
  }

  // ------------------------------------------------------------------ protocol

  private put(key: string, object: Obj, type: 'ADDED' | 'MODIFIED' | 'DELETED'): Obj {
    this.rv += 1;
    const stored = { ...object, metadata: { ...object.metadata, resourceVersion: String(this.rv) } } as Obj;
    if (!this.store.has(key)) this.store.set(key, new Map());
    if (type === 'DELETED') this.store.get(key)?.delete(stored.metadata.name);
    else this.store.get(key)?.set(stored.metadata.name, stored);
    const event: WatchEvent = { rv: this.rv, key, type, object: stored };
    this.history.push(event);
    for (const w of this.watchers) if (w.key === key && matches(stored, w.selector)) w.res.write(`${JSON.stringify({ type, object: stored })}\n`);
    return stored;
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown) : undefined;
    const recorded: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, query, ...(body !== undefined ? { body } : {}) };
    this.requests.push(recorded);
    const injected = this.fail?.(recorded);
    if (injected) return this.status(res, injected, 'InternalError', 'injected by the test');

    const core = /^\/api\/v1\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?(?:\/(log))?$/.exec(url.pathname);
    const custom = /^\/apis\/([^/]+)\/([^/]+)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/.exec(url.pathname);
    let key: string;
    let namespace: string;
    let resource: string;
    let name: string | undefined;
    let apiVersion: string;
    if (core) {
      [, namespace, resource, name] = core as unknown as [string, string, string, string | undefined];
      key = `core/${namespace}/${resource}`;
      apiVersion = 'v1';
      if (core[4] === 'log' && resource === 'pods' && name) return this.log(res, namespace, name, query);
    } else if (custom) {
      const [, group, version, ns, plural, n] = custom as unknown as [string, string, string, string, string, string | undefined];
      namespace = ns;
      resource = plural;
      name = n;
      key = `${group}/${version}/${namespace}/${plural}`;
      apiVersion = `${group}/${version}`;
    } else {
      return this.status(res, 404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
    }
    const collection = this.store.get(key) ?? new Map<string, Obj>();
    const kind = KINDS[resource] ?? `${resource}`;

    if (req.method === 'GET' && !name && (query['watch'] === 'true' || query['watch'] === '1')) return this.watch(res, key, query);
    if (req.method === 'GET' && !name) {
      const selector = parseSelector(query['labelSelector']);
      const items = [...collection.values()].filter((o) => matches(o, selector));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: `${kind}List`, apiVersion, metadata: { resourceVersion: String(this.rv) }, items }));
      return;
    }
    if (req.method === 'GET' && name) {
      const found = collection.get(name);
      if (!found) return this.status(res, 404, 'NotFound', `${resource} "${name}" not found`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(found));
      return;
    }
    if (req.method === 'POST' && !name) {
      const object = body as Obj;
      const objectName = object?.metadata?.name;
      if (!objectName) return this.status(res, 422, 'Invalid', 'metadata.name: Required value');
      if (collection.has(objectName)) return this.status(res, 409, 'AlreadyExists', `${resource} "${objectName}" already exists`);
      const created = {
        ...object,
        metadata: { ...object.metadata, namespace, uid: randomUUID(), creationTimestamp: new Date(this.clock).toISOString().replace(/\.\d+Z$/, 'Z') },
        ...(resource === 'pods' ? { status: { phase: 'Pending', qosClass: 'BestEffort' } } : {}),
      } as Obj;
      if (resource === 'secrets') {
        // As the real server: stringData is merged into data (base64) and never returned.
        const stringData = (object['stringData'] ?? {}) as Record<string, string>;
        const data = { ...((object['data'] ?? {}) as Record<string, string>) };
        for (const [k, v] of Object.entries(stringData)) data[k] = Buffer.from(v).toString('base64');
        delete created['stringData'];
        created['data'] = data;
      }
      const stored = this.put(key, created, 'ADDED');
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify(stored));
      return;
    }
    if (req.method === 'DELETE' && name) {
      const found = collection.get(name);
      if (!found) return this.status(res, 404, 'NotFound', `${resource} "${name}" not found`);
      // A pod first shows its deletionTimestamp (terminating), then disappears.
      if (resource === 'pods') {
        this.put(key, { ...found, metadata: { ...found.metadata, deletionTimestamp: new Date(this.clock).toISOString(), deletionGracePeriodSeconds: Number(query['gracePeriodSeconds'] ?? 30) } } as Obj, 'MODIFIED');
        for (const f of [...this.logFollowers]) if (f.key === `${namespace}/${name}`) this.endFollower(f);
      }
      const deleted = this.put(key, collection.get(name) ?? found, 'DELETED');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(resource === 'pods' ? deleted : { kind: 'Status', apiVersion: 'v1', status: 'Success', details: { name, kind: resource } }));
      return;
    }
    this.status(res, 405, 'MethodNotAllowed', `${req.method} is not supported by the fake API server`);
  }

  private watch(res: ServerResponse, key: string, query: Record<string, string>): void {
    const from = Number(query['resourceVersion'] ?? '0');
    const selector = parseSelector(query['labelSelector']);
    if (from && from < this.oldestRetained) {
      if (this.goneAsHttpStatus) return this.status(res, 410, 'Expired', `too old resource version: ${from} (${this.oldestRetained})`);
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${from} (${this.oldestRetained})`, reason: 'Expired', code: 410 } })}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    for (const event of this.history) {
      if (event.rv > from && event.key === key && matches(event.object, selector)) res.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`);
    }
    const watcher = { key, selector, res };
    this.watchers.add(watcher);
    res.on('close', () => this.watchers.delete(watcher));
  }

  private log(res: ServerResponse, namespace: string, name: string, query: Record<string, string>): void {
    const pod = this.store.get(`core/${namespace}/pods`)?.get(name);
    if (!pod) return this.status(res, 404, 'NotFound', `pods "${name}" not found`);
    const statuses = ((pod['status'] as { containerStatuses?: Array<{ name?: string; state?: Record<string, unknown> }> } | undefined)?.containerStatuses ?? []);
    const container = statuses.find((c) => c.name === (query['container'] ?? c.name));
    if (!container?.state || container.state['waiting']) {
      return this.status(res, 400, 'BadRequest', `container "${query['container']}" in pod "${name}" is waiting to start: ContainerCreating`);
    }
    const key = `${namespace}/${name}`;
    const since = query['sinceTime'] ? Date.parse(query['sinceTime']) : 0;
    const timestamps = query['timestamps'] === 'true';
    res.writeHead(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    for (const line of this.logs.get(key) ?? []) if (Date.parse(line.ts) >= since) res.write(timestamps ? `${line.ts} ${line.text}\n` : `${line.text}\n`);
    if (query['follow'] === 'true' && !container.state['terminated']) {
      const follower = { key, res, since: query['sinceTime'] ?? '' };
      this.logFollowers.add(follower);
      res.on('close', () => this.logFollowers.delete(follower));
      return;
    }
    res.end();
  }

  private endFollower(f: { res: ServerResponse }): void {
    this.logFollowers.delete(f as never);
    f.res.end();
  }
}

function parseSelector(selector: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (selector ?? '').split(',')) {
    if (!part) continue;
    const [k, v] = part.split('=');
    out[k as string] = v ?? '';
  }
  return out;
}

function matches(object: Obj, selector: Record<string, string>): boolean {
  const labels = object.metadata.labels ?? {};
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}
