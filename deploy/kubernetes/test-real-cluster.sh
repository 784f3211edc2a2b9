#!/usr/bin/env bash
# Runs the Kubernetes executor suite (apps/scheduler/src/executors/kubernetes/kubernetes.executor.spec.ts)
# against a real cluster instead of the fake API server. Creates a throwaway kind or k3d cluster
# unless KUBECONFIG_FILE points at an existing one. From the repository root:
#   deploy/kubernetes/test-real-cluster.sh            # kind (default)
#   TOOL=k3d deploy/kubernetes/test-real-cluster.sh   # k3d
#   KUBECONFIG_FILE=~/.kube/config deploy/kubernetes/test-real-cluster.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
TOOL=${TOOL:-kind}
CLUSTER=${CLUSTER:-myelin-test}
if [[ -z "${KUBECONFIG_FILE:-}" ]]; then
  KUBECONFIG_FILE=$(mktemp)
  case "$TOOL" in
    kind)
      kind get clusters 2>/dev/null | grep -qx "$CLUSTER" || kind create cluster --name "$CLUSTER" --wait 180s
      kind get kubeconfig --name "$CLUSTER" > "$KUBECONFIG_FILE" ;;
    k3d)
      k3d cluster list "$CLUSTER" >/dev/null 2>&1 || k3d cluster create "$CLUSTER" --wait
      k3d kubeconfig get "$CLUSTER" > "$KUBECONFIG_FILE" ;;
    *) echo "TOOL must be kind or k3d" >&2; exit 2 ;;
  esac
fi
MYELIN_K8S_TEST_KUBECONFIG="$KUBECONFIG_FILE" NODE_OPTIONS="--experimental-vm-modules --no-warnings" \
  npx jest apps/scheduler/src/executors/kubernetes/kubernetes.executor.spec.ts --runInBand --forceExit
