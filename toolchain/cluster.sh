#!/usr/bin/env bash
# The local Kubernetes cluster: kwokctl's binary runtime on the locally built etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler and kwok controller, with one fake
# node on which kwok's stages make pods Running/Ready (so Deployments turn Available).
#   cluster.sh up [--readiness MODE]  start (no-op when already healthy in that mode; recreates
#                      after a crash); prints the kubeconfig path
#   cluster.sh down    delete it and make sure no process of it is left
#   cluster.sh status  "running <kubeconfig>" (exit 0, readiness mode on stderr) or "stopped" (exit 1)
# Readiness modes (--readiness or TRADERX_CLUSTER_READINESS; see toolchain/kwok/):
#   instant   (default) kwok's built-in stages: every pod is Ready at once
#   simulate  Ready at once, plus the failure labels (traderx.finos.org/simulate=never-ready|
#             restart|unready-after) and the traderx.finos.org/ready-after annotation
#   traderx   startup delays like TraderX's (JVM services 20-40 s, web 8-12 s, others 2-5 s),
#             plus the same labels and annotation
# Every mode watches kwok's ClusterExec resources (--enable-crds), so `kubectl exec` into a pod
# runs a local command in the directory a ClusterExec names: tests/ops/kwok_volume.py uses that
# to give an environment's database a host directory standing in for its persistent volume.
# Every mode also provisions volumes: kube-controller-manager runs its hostPath provisioner
# (toolchain/kwok/kwokctl-storage.yaml) and `up` creates the default StorageClass
# (toolchain/kwok/storageclass.yaml), so a PersistentVolumeClaim (the database's data volume)
# binds to a directory /tmp/hostpath_pv/<uuid> on this machine (`down` removes those left).
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
STAGES_DIR="$TOOLCHAIN_DIR/kwok"
MODE_FILE="$CLUSTER_DIR/traderx-readiness"  # the readiness mode the cluster was created with
READINESS_MODES="instant simulate traderx"
MAX_PODS="${TRADERX_CLUSTER_MAX_PODS:-1000}"
[[ "$MAX_PODS" =~ ^[1-9][0-9]*$ ]] || die "cluster: TRADERX_CLUSTER_MAX_PODS must be a positive integer, got '$MAX_PODS'"

# The readiness mode of the existing cluster (instant when it recorded none).
recorded_mode() { cat "$MODE_FILE" 2>/dev/null || echo instant; }

check_mode() { # mode: refuse anything but a known mode, naming the allowed ones
  case " $READINESS_MODES " in
    *" $1 "*) ;;
    *) die "cluster: unknown readiness mode '$1' (allowed: ${READINESS_MODES// /, })" ;;
  esac
}

# kwokctl --config arguments for a mode: none for instant (kwok's built-in stages), else our
# Stage files (any Stage given replaces all built-in ones, so the node stages come along).
STAGE_CONFIGS=()
stage_configs() {
  STAGE_CONFIGS=()
  [ "$1" = instant ] && return 0
  local f
  for f in node.yaml pod-lifecycle.yaml pod-failures.yaml "pod-readiness-$1.yaml"; do
    [ -f "$STAGES_DIR/$f" ] || die "cluster: $STAGES_DIR/$f is missing"
    STAGE_CONFIGS+=(--config "$STAGES_DIR/$f")
  done
}

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

# The host directories of this cluster's provisioned volumes (the hostPath provisioner's
# /tmp/hostpath_pv/<uuid>): kube-controller-manager deletes them with their claims, but not
# those still there when the cluster goes, so `down` removes them.
volume_dirs() {
  healthy || return 0
  kc get pv -o jsonpath='{range .items[*]}{.spec.hostPath.path}{"\n"}{end}' 2>/dev/null |
    grep -E '^/tmp/hostpath_pv/[0-9a-f-]+$' || true
}

down() {
  local pids dirs
  pids=$(cluster_pids)
  dirs=$(volume_dirs)
  if [ -d "$CLUSTER_DIR" ]; then
    log "cluster: deleting $CLUSTER_NAME"
    "$KWOKCTL" --name "$CLUSTER_NAME" delete cluster --kubeconfig "$CONTEXTS_KUBECONFIG" >&2 || log "cluster: kwokctl delete reported an error; cleaning up by pid"
  fi
  # shellcheck disable=SC2086
  [ -n "$pids" ] && kill_leftovers $pids && wait_gone $pids
  rm -rf "$CLUSTER_DIR" "$UP_MARK"
  # shellcheck disable=SC2086
  [ -z "$dirs" ] || rm -rf $dirs
  log "cluster: down"
}

up() { # [requested readiness mode, "" for: as recorded, else instant]
  local requested=${1:-} mode
  [ -z "$requested" ] || check_mode "$requested"
  need_binaries
  if healthy; then
    mode=$(recorded_mode)
    if [ -n "$requested" ] && [ "$requested" != "$mode" ]; then
      die "cluster: $CLUSTER_NAME is running with readiness '$mode', not '$requested'; run \`cluster.sh down\` first (or use another TRADERX_CLUSTER_NAME)"
    fi
    log "cluster: $CLUSTER_NAME already running (readiness $mode)"
    kc get storageclass local-hostpath >/dev/null 2>&1 ||
      log "cluster: $CLUSTER_NAME predates volume provisioning (no StorageClass local-hostpath): the database's PersistentVolumeClaim will not bind; re-create it: cluster.sh down && cluster.sh up"
    touch "$UP_MARK"
    echo "$KUBECONFIG_PATH"
    return 0
  fi
  mode=${requested:-$(recorded_mode)}
  if [ -d "$CLUSTER_DIR" ]; then
    log "cluster: found a stale $CLUSTER_NAME (crashed or stopped run); recreating it"
    down
  fi
  local t0=$SECONDS
  stage_configs "$mode"
  log "cluster: creating $CLUSTER_NAME (kwok binary runtime, Kubernetes $KUBERNETES_VERSION, readiness $mode)"
  mkdir -p "$KWOK_WORKDIR"
  [ -f "$STAGES_DIR/kwokctl-storage.yaml" ] && [ -f "$STAGES_DIR/storageclass.yaml" ] ||
    die "cluster: $STAGES_DIR/kwokctl-storage.yaml or storageclass.yaml is missing"
  timeout "$WAIT_SECONDS" "$KWOKCTL" --name "$CLUSTER_NAME" "${STAGE_CONFIGS[@]}" \
    --config "$STAGES_DIR/kwokctl-storage.yaml" create cluster \
    --runtime binary \
    --kubeconfig "$CONTEXTS_KUBECONFIG" \
    --kube-apiserver-binary "$KUBERNETES_DIR/bin/kube-apiserver" \
    --kube-controller-manager-binary "$KUBERNETES_DIR/bin/kube-controller-manager" \
    --kube-scheduler-binary "$KUBERNETES_DIR/bin/kube-scheduler" \
    --etcd-binary "$ETCD_DIR/bin/etcd" \
    --kwok-controller-binary "$KWOK_DIR/bin/kwok" \
    --enable-crds ClusterExec \
    --wait "${WAIT_SECONDS}s" >&2 || { down; die "cluster: kwokctl create cluster failed or timed out after ${WAIT_SECONDS}s; retry: make cluster-up"; }
  # kwokctl's node template allows 110 pods; several TraderX stacks (prod alone runs 18 pods)
  # and parallel test runs need more, so the one node takes TRADERX_CLUSTER_MAX_PODS.
  "$KWOKCTL" --name "$CLUSTER_NAME" scale node --replicas 1 \
    --param ".allocatable.pods = ${MAX_PODS}" >&2 ||
    { down; die "cluster: adding the fake node failed; retry: make cluster-up"; }
  local deadline=$((SECONDS + WAIT_SECONDS))
  until kc wait --for=condition=Ready node --all --timeout=5s >/dev/null 2>&1 &&
    kc get serviceaccount default -n default >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { down; die "cluster: node not Ready within ${WAIT_SECONDS}s; retry: make cluster-up"; }
    sleep 1
  done
  kc apply -f "$STAGES_DIR/storageclass.yaml" >&2 ||
    { down; die "cluster: creating the default StorageClass failed; retry: make cluster-up"; }
  echo "$mode" >"$MODE_FILE"
  touch "$UP_MARK"
  log "cluster: $CLUSTER_NAME ready in $((SECONDS - t0))s; export KUBECONFIG=$KUBECONFIG_PATH"
  echo "$KUBECONFIG_PATH"
}

status() {
  if healthy; then
    echo "running $KUBECONFIG_PATH"
    log "cluster: $CLUSTER_NAME readiness $(recorded_mode)"
  else
    echo stopped
    return 1
  fi
}

usage="usage: cluster.sh up [--readiness ${READINESS_MODES// /|}] | down | status"
case "${1:-}" in
  up)
    shift
    readiness=${TRADERX_CLUSTER_READINESS:-}
    while [ $# -gt 0 ]; do
      case "$1" in
        --readiness) [ $# -ge 2 ] || die "$usage"; readiness=$2; shift 2 ;;
        --readiness=*) readiness=${1#*=}; shift ;;
        *) die "$usage" ;;
      esac
    done
    up "$readiness"
    ;;
  down) down ;;
  status) status ;;
  *) die "$usage" ;;
esac
