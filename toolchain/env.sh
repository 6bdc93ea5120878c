# shellcheck shell=bash
# Source me: `source toolchain/env.sh`. Puts the project's Pulumi CLI, language host,
# plugins, Kubernetes binaries and kwok on PATH, sets the Pulumi variables that keep the CLI
# offline, and points KUBECONFIG at the local cluster when it is up. Safe to source from any
# shell (no `set -e`, no exit), and cheap: it only looks at files.

_traderx_env() {
  local here
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  # shellcheck source=/dev/null
  source "$here/lib.sh"

  local mode
  mode=$(cat "$TRADERX_CACHE/toolchain-mode" 2>/dev/null || echo built)
  if [ "$mode" = built ]; then
    local d
    for d in "$PULUMI_DIR" "$KUBERNETES_DIR" "$ETCD_DIR" "$KWOK_DIR" "$ACTIONLINT_DIR" "$CONFIGHUB_SDK_BIN_DIR"; do
      case ":$PATH:" in *":$d/bin:"*) ;; *) PATH="$d/bin:$PATH" ;; esac
    done
    export PATH
    export PULUMI_HOME="$PULUMI_HOME_DIR"
  else
    # Ambient Pulumi install: keep the user's PATH and PULUMI_HOME; still use our cluster bins.
    local d
    for d in "$KUBERNETES_DIR" "$ETCD_DIR" "$KWOK_DIR" "$ACTIONLINT_DIR" "$CONFIGHUB_SDK_BIN_DIR"; do
      case ":$PATH:" in *":$d/bin:"*) ;; *) PATH="$d/bin:$PATH" ;; esac
    done
    export PATH
  fi

  export TRADERX_CACHE
  # Python for programs without a `virtualenv` option and for dynamic providers
  # (pulumi-resource-pulumi-python runs "${PULUMI_PYTHON_CMD:-python3}" -m pulumi.dynamic).
  if [ -z "${PULUMI_PYTHON_CMD:-}" ] && [ -x "$REPO_ROOT/.venv/bin/python" ]; then
    export PULUMI_PYTHON_CMD="$REPO_ROOT/.venv/bin/python"
  fi
  export PULUMI_SKIP_UPDATE_CHECK=true
  export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
  # metadata=skip: fileblob writes no `.attrs` sidecar. The sidecar is rewritten in place (truncate,
  # then write) while the checkpoint itself is replaced by an atomic rename, so a killed `pulumi up`
  # could leave an empty sidecar and every later command failing with "failed to load checkpoint: EOF".
  export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$REPO_ROOT/.state/pulumi?metadata=skip}"
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    # A per-machine random passphrase for the local file backend, kept outside the repo.
    local pf="$TRADERX_CACHE/local-passphrase"
    if [ ! -s "$pf" ]; then
      mkdir -p "$TRADERX_CACHE"
      (umask 077 && head -c 32 /dev/urandom | base64 >"$pf")
    fi
    export PULUMI_CONFIG_PASSPHRASE_FILE="$pf"
  fi

  local kc="$KWOK_WORKDIR/clusters/$CLUSTER_NAME/kubeconfig.yaml"
  if [ -f "$kc" ] && [ -f "$KWOK_WORKDIR/up-$CLUSTER_NAME" ]; then
    export KUBECONFIG="$kc"
  fi
}
_traderx_env
unset -f _traderx_env
