import { createParser } from 'eventsource-parser';
import { ApiError, ConnectionError } from './api-error';
import type { OutputDownload, OutputEntry } from './types';
import { Condition, CreateRunRequest, LogLine, MetricPoint, MetricSummary, Page, Run, RunMetadata } from './types';

export interface SeriesRange {
  fromStep?: number;
  toStep?: number;
  /** Downsample longer series to this many points (LTTB on the server). */
  points?: number;
}

function seriesQuery(names: string[] | undefined, range: SeriesRange): string {
  const q = new URLSearchParams();
  if (names?.length) q.set('names', names.join(','));
  if (range.fromStep !== undefined) q.set('from_step', String(range.fromStep));
  if (range.toStep !== undefined) q.set('to_step', String(range.toStep));
  if (range.points !== undefined) q.set('points', String(range.points));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export interface ClientOptions {
  host: string;
  /**
   * Where `/api/v1/tracking/...` lives when it is not behind the same address as the API
   * (distributed mode without an ingress); defaults to `host`.
   */
  trackingHost?: string;
  token?: string;
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
}

/** Typed client of the Myelin API and tracking reads (the CLI's only way to the platform). */
export class MyelinClient {
  private readonly host: string;
  private readonly trackingHost: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: ClientOptions) {
    this.host = options.host.replace(/\/+$/, '');
    this.trackingHost = (options.trackingHost ?? options.host).replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? fetch;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      Accept: 'application/json',
      ...(this.options.token ? { Authorization: `token ${this.options.token}` } : {}),
      ...extra,
    };
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      const base = path.startsWith('/api/v1/tracking/') ? this.trackingHost : this.host;
      res = await this.fetchImpl(`${base}${path}`, {
        method,
        headers: this.headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new ConnectionError(this.host, (error as { cause?: unknown }).cause ?? error);
    }
    const text = await res.text();
    const data = text ? (JSON.parse(text) as unknown) : undefined;
    if (!res.ok) {
      const e = (data ?? {}) as { code?: string; message?: string; details?: unknown };
      throw new ApiError(res.status, e.code ?? `http_${res.status}`, e.message ?? res.statusText, e.details);
    }
    return data as T;
  }

  /** Any JSON call of the API (for commands whose endpoint has no typed method yet). */
  call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.request<T>(method, path, body);
  }

  whoami(): Promise<{ username: string; isSuperuser: boolean }> {
    return this.request('GET', '/api/v1/users');
  }

  login(username: string, password: string): Promise<{ token: string; expiresAt: string | null }> {
    return this.request('POST', '/api/v1/users/token', { username, password });
  }

  createRun(project: string, body: CreateRunRequest): Promise<Run> {
    return this.request('POST', `/api/v1/${project}/runs`, body);
  }

  listRuns(project: string, { limit = 20, offset = 0, query, sort }: { limit?: number; offset?: number; query?: string; sort?: string } = {}): Promise<Page<Run>> {
    const q = new URLSearchParams({ limit: String(limit), offset: String(offset), ...(query ? { query } : {}), ...(sort ? { sort } : {}) });
    return this.request('GET', `/api/v1/${project}/runs?${q.toString()}`);
  }

  getRun(project: string, id: string | number): Promise<Run> {
    return this.request('GET', `/api/v1/${project}/runs/${id}`);
  }

  getRunByUuid(uuid: string): Promise<Run> {
    return this.request('GET', `/api/v1/runs/${uuid}`);
  }

  async statuses(project: string, id: string | number): Promise<Condition[]> {
    return (await this.request<Page<Condition>>('GET', `/api/v1/${project}/runs/${id}/statuses`)).results;
  }

  stopRun(project: string, id: string | number): Promise<Run> {
    return this.request('POST', `/api/v1/${project}/runs/${id}/stop`);
  }

  logs(uuid: string, after = 0, limit = 1000): Promise<{ results: LogLine[]; ended: boolean }> {
    return this.request('GET', `/api/v1/tracking/runs/${uuid}/logs?after=${after}&limit=${limit}`);
  }

  metrics(uuid: string, names?: string[], range: SeriesRange = {}): Promise<Record<string, MetricPoint[]>> {
    return this.request('GET', `/api/v1/tracking/runs/${uuid}/metrics${seriesQuery(names, range)}`);
  }

  /** Several runs' series at once (comparison), keyed by run uuid. */
  metricsOfRuns(uuids: string[], names?: string[], range: SeriesRange = {}): Promise<Record<string, Record<string, MetricPoint[]>>> {
    const q = seriesQuery(names, range);
    return this.request('GET', `/api/v1/tracking/metrics${q ? `${q}&` : '?'}runs=${uuids.join(',')}`);
  }

  metricSummaries(uuid: string): Promise<MetricSummary[]> {
    return this.request('GET', `/api/v1/tracking/runs/${uuid}/metrics/summaries`);
  }

  /** Params the run logged, its code reference, environment and data references. */
  runMetadata(uuid: string): Promise<RunMetadata> {
    return this.request('GET', `/api/v1/tracking/runs/${uuid}/metadata`);
  }

  /** A run tracked from outside the platform (a script on a laptop): `running` at once, never scheduled. */
  createExternalRun(project: string, body: { name?: string; description?: string; tags?: string[]; params?: Record<string, unknown> } = {}): Promise<Run> {
    return this.request('POST', `/api/v1/${project}/runs/external`, body);
  }

  /**
   * Follow a run's logs (Server-Sent Events): every line from `after` on, live, until the run's
   * last line. Reconnects from the last id seen if the connection drops.
   */
  async followLogs(uuid: string, onLine: (line: LogLine) => void, { after = 0, signal }: { after?: number; signal?: AbortSignal } = {}): Promise<void> {
    let lastId = after;
    for (let attempt = 0; ; attempt++) {
      let ended = false;
      try {
        const res = await this.fetchImpl(`${this.trackingHost}/api/v1/tracking/runs/${uuid}/logs/stream?after=${lastId}`, {
          headers: this.headers({ Accept: 'text/event-stream' }),
          signal,
        });
        if (!res.ok || !res.body) {
          const text = await res.text();
          const e = (text ? JSON.parse(text) : {}) as { code?: string; message?: string };
          throw new ApiError(res.status, e.code ?? `http_${res.status}`, e.message ?? res.statusText);
        }
        const parser = createParser({
          onEvent: (event) => {
            if (event.event === 'end') {
              ended = true;
              return;
            }
            const line = JSON.parse(event.data) as LogLine;
            lastId = line.id;
            onLine(line);
          },
        });
        const decoder = new TextDecoder();
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          parser.feed(decoder.decode(chunk, { stream: true }));
          if (ended) break;
        }
        if (ended) return;
      } catch (error) {
        if (error instanceof ApiError || signal?.aborted) throw error;
        if (attempt >= 30) throw new ConnectionError(this.host, error);
      }
      await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** attempt, 3000)));
    }
  }

  /** `?path=` of the outputs endpoints. */
  private static outputsQuery(path: string | undefined): string {
    return path ? `?path=${encodeURIComponent(path)}` : '';
  }

  /** A run's outputs as a recursive tree (`path`: a folder, default the root). */
  outputsTree(uuid: string, path?: string): Promise<{ entries: OutputEntry[] }> {
    return this.request('GET', `/api/v1/tracking/runs/${uuid}/outputs/tree${MyelinClient.outputsQuery(path)}`);
  }

  /** One file of a run's outputs, streamed. */
  downloadOutput(uuid: string, path: string, signal?: AbortSignal): Promise<OutputDownload> {
    return this.openDownload(`/api/v1/tracking/runs/${uuid}/outputs/file${MyelinClient.outputsQuery(path)}`, signal);
  }

  /** A folder of a run's outputs (default: all of them) as a `.tar.gz`, streamed; its size is not known in advance. */
  downloadOutputsArchive(uuid: string, path?: string, signal?: AbortSignal): Promise<OutputDownload> {
    return this.openDownload(`/api/v1/tracking/runs/${uuid}/outputs/download${MyelinClient.outputsQuery(path)}`, signal);
  }

  /** Store a file in a run's outputs; `body` is streamed when it is an async iterable of chunks. */
  async uploadOutput(uuid: string, path: string, body: Uint8Array | AsyncIterable<Uint8Array>): Promise<{ path: string; size: number }> {
    const url = `${this.trackingHost}/api/v1/tracking/runs/${uuid}/outputs/file${MyelinClient.outputsQuery(path)}`;
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method: 'PUT',
        headers: this.headers({ 'Content-Type': 'application/octet-stream' }),
        body: body instanceof Uint8Array ? body : ReadableStream.from(body),
        duplex: 'half',
      } as RequestInit);
    } catch (error) {
      throw new ConnectionError(this.trackingHost, (error as { cause?: unknown }).cause ?? error);
    }
    const text = await res.text();
    const data = (text ? JSON.parse(text) : {}) as { path: string; size: number; code?: string; message?: string };
    if (!res.ok) throw new ApiError(res.status, data.code ?? `http_${res.status}`, data.message ?? res.statusText);
    return { path: data.path, size: data.size };
  }

  private async openDownload(path: string, signal?: AbortSignal): Promise<OutputDownload> {
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.trackingHost}${path}`, { headers: this.headers({ Accept: '*/*' }), ...(signal ? { signal } : {}) });
    } catch (error) {
      throw new ConnectionError(this.trackingHost, (error as { cause?: unknown }).cause ?? error);
    }
    if (!res.ok || !res.body) {
      const text = await res.text();
      let e: { code?: string; message?: string } = {};
      try {
        e = text ? (JSON.parse(text) as typeof e) : {};
      } catch {
        // not JSON (a proxy's page): the status says enough
      }
      throw new ApiError(res.status, e.code ?? `http_${res.status}`, e.message ?? res.statusText);
    }
    const length = res.headers.get('content-length');
    return { body: res.body as unknown as AsyncIterable<Uint8Array>, size: length === null ? null : Number(length) };
  }
}
