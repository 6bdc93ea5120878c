#!/usr/bin/env bash
# The local Kubernetes cluster: kwokctl's binary runtime on the locally built etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler and kwok controller, with one fake
# node on which kwok's default stages make pods Running/Ready (so Deployments turn Available).
#   cluster.sh up      start (no-op when already healthy; recreates after a crash); prints the kubeconfig path
#   cluster.sh down    delete it and make sure no process of it is left
#   cluster.sh status  "running <kubeconfig>" (exit 0) or "stopped" (exit 1)
# State lives in ${TRADERX_CACHE}/kwok-state, outside the repository.
set -euo pipefail
# shellcheck source=toolchain/lib.sh
source "$(dirname "$0")/lib.sh"

export KWOK_WORKDIR
CLUSTER_DIR="$KWOK_WORKDIR/clusters/$CLUSTER_NAME"
KUBECONFIG_PATH="$CLUSTER_DIR/kubeconfig.yaml"
UP_MARK="$KWOK_WORKDIR/up-$CLUSTER_NAME"
# kwokctl records a context for each cluster in a kubeconfig; keep that one ours, not ~/.kube/config.
CONTEXTS_KUBECONFIG="$KWOK_WORKDIR/contexts-kubeconfig.yaml"
WAIT_SECONDS="${TRADERX_CLUSTER_WAIT:-180}"
KWOKCTL="$KWOK_DIR/bin/kwokctl"

need_binaries() {
  local b
  for b in "$KWOKCTL" "$KWOK_DIR/bin/kwok" "$ETCD_DIR/bin/etcd" "$KUBERNETES_DIR/bin/kube-apiserver" \
    "$KUBERNETES_DIR/bin/kube-controller-manager" "$KUBERNETES_DIR/bin/kube-scheduler"; do
    [ -x "$b" ] || die "cluster: $b is missing; run: make bootstrap"
  done
  command -v kubectl >/dev/null || die "cluster: kubectl is missing; run: make bootstrap"
}

kc() { kubectl --kubeconfig "$KUBECONFIG_PATH" --request-timeout=5s "$@"; }

healthy() {
  [ -f "$KUBECONFIG_PATH" ] && kc get --raw /readyz >/dev/null 2>&1 &&
    [ "$(kc get nodes -o name 2>/dev/null | wc -l)" -ge 1 ]
}

# PIDs kwokctl recorded for this cluster's components.
cluster_pids() {
  local f
  for f in "$CLUSTER_DIR"/pids/*.pid; do
    [ -f "$f" ] && printf '%s\n' "$(tr -dc 0-9 <"$f")"
  done
  return 0
}

# ours PID: true when PID is alive and runs from this cluster's directory (a recorded pid
# may have been reused by an unrelated process after a crash or a reboot).
ours() {
  local cmdline
  cmdline=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
  [[ "$cmdline" == *"$CLUSTER_DIR/"* ]]
}

kill_leftovers() { # pids...: stop those of the listed processes that are still ours
  local pid mine=()
  for pid in "$@"; do ours "$pid" && mine+=("$pid"); done
  [ ${#mine[@]} -gt 0 ] || return 0
  set -- "${mine[@]}"
  for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
  for pid in "$@"; do kill -9 "$pid" 2>/dev/null || true; done
}

# running PID: the process exists and is not a zombie waiting to be reaped.
running() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

wait_gone() { # pids...: bounded wait until none of them runs any more
  local pid left
  for _ in $(seq 100); do
    left=0
    for pid in "$@"; do running "$pid" && ours "$pid" && left=1; done
    [ $left = 0 ] && return 0
    sleep 0.1
  done
  log "cluster: processes still running after 10s: $*"
  return 1
}

down() {
  local pids
  pids=$(cluster_pids)
  if [ -d "$CLUSTER_DIR" ]; then
    log "cluster: deleting $CLUSTER_NAME"
    "$KWOKCTL" --name "$CLUSTER_NAME" delete cluster --kubeconfig "$CONTEXTS_KUBECONFIG" >&2 || log "cluster: kwokctl delete reported an error; cleaning up by pid"
  fi
  # shellcheck disable=SC2086
  [ -n "$pids" ] && kill_leftovers $pids && wait_gone $pids
  rm -rf "$CLUSTER_DIR" "$UP_MARK"
  log "cluster: down"
}

up() {
  need_binaries
  if healthy; then
    log "cluster: $CLUSTER_NAME already running"
    touch "$UP_MARK"
    echo "$KUBECONFIG_PATH"
    return 0
  fi
  if [ -d "$CLUSTER_DIR" ]; then
    log "cluster: found a stale $CLUSTER_NAME (crashed or stopped run); recreating it"
    down
  fi
  local t0=$SECONDS
  log "cluster: creating $CLUSTER_NAME (kwok binary runtime, Kubernetes $KUBERNETES_VERSION)"
  mkdir -p "$KWOK_WORKDIR"
  timeout "$WAIT_SECONDS" "$KWOKCTL" --name "$CLUSTER_NAME" create cluster \
    --runtime binary \
    --kubeconfig "$CONTEXTS_KUBECONFIG" \
    --kube-apiserver-binary "$KUBERNETES_DIR/bin/kube-apiserver" \
    --kube-controller-manager-binary "$KUBERNETES_DIR/bin/kube-controller-manager" \
    --kube-scheduler-binary "$KUBERNETES_DIR/bin/kube-scheduler" \
    --etcd-binary "$ETCD_DIR/bin/etcd" \
    --kwok-controller-binary "$KWOK_DIR/bin/kwok" \
    --wait "${WAIT_SECONDS}s" >&2 || { down; die "cluster: kwokctl create cluster failed or timed out after ${WAIT_SECONDS}s; retry: make cluster-up"; }
  "$KWOKCTL" --name "$CLUSTER_NAME" scale node --replicas 1 >&2 ||
    { down; die "cluster: adding the fake node failed; retry: make cluster-up"; }
  local deadline=$((SECONDS + WAIT_SECONDS))
  until kc wait --for=condition=Ready node --all --timeout=5s >/dev/null 2>&1 &&
    kc get serviceaccount default -n default >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { down; die "cluster: node not Ready within ${WAIT_SECONDS}s; retry: make cluster-up"; }
    sleep 1
  done
  touch "$UP_MARK"
  log "cluster: $CLUSTER_NAME ready in $((SECONDS - t0))s; export KUBECONFIG=$KUBECONFIG_PATH"
  echo "$KUBECONFIG_PATH"
}

status() {
  if healthy; then echo "running $KUBECONFIG_PATH"; else echo stopped; return 1; fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) die "usage: cluster.sh up|down|status" ;;
esac
