/**
 * The one place that loads @kubernetes/client-node. Version 1.x is ESM-only: a real dynamic
 * import() works both in the built CommonJS app (Node 20) and under jest with
 * --experimental-vm-modules (SWC keeps dynamic imports as they are).
 */
export type KubernetesClientModule = typeof import('@kubernetes/client-node');
export type KubeConfig = import('@kubernetes/client-node').KubeConfig;

let loaded: Promise<KubernetesClientModule> | undefined;

export function loadKubernetesClient(): Promise<KubernetesClientModule> {
  loaded ??= import('@kubernetes/client-node');
  return loaded;
}

export type KubernetesAuth =
  /** The pod's service account (the scheduler runs in the cluster). */
  | { mode: 'in-cluster' }
  /** A kubeconfig file (its current context, or the one named). */
  | { mode: 'kubeconfig'; path?: string; context?: string }
  /** A server URL without credentials (tests against the fake API server, `kubectl proxy`). */
  | { mode: 'url'; server: string; skipTLSVerify?: boolean };

export async function makeKubeConfig(auth: KubernetesAuth): Promise<KubeConfig> {
  const k8s = await loadKubernetesClient();
  const kc = new k8s.KubeConfig();
  if (auth.mode === 'in-cluster') {
    kc.loadFromCluster();
  } else if (auth.mode === 'kubeconfig') {
    if (auth.path) kc.loadFromFile(auth.path);
    else kc.loadFromDefault();
    if (auth.context) kc.setCurrentContext(auth.context);
  } else {
    kc.loadFromOptions({
      clusters: [{ name: 'myelin', server: auth.server, skipTLSVerify: auth.skipTLSVerify ?? auth.server.startsWith('http://') }],
      users: [{ name: 'myelin' }],
      contexts: [{ name: 'myelin', cluster: 'myelin', user: 'myelin' }],
      currentContext: 'myelin',
    });
  }
  return kc;
}

/** The HTTP status of an error thrown by the client (ApiException.code) or by Watch (statusCode). */
export function statusOf(error: unknown): number | undefined {
  const e = error as { code?: unknown; statusCode?: unknown } | null;
  if (e && typeof e.code === 'number') return e.code;
  if (e && typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}
