#!/usr/bin/env bash
# `make bootstrap`: everything the real-engine tests need, idempotent and cached.
#   1. the project's virtualenv (venv.sh);
#   2. a Pulumi CLI of the pinned version with the kubernetes and command plugins: an
#      ambient install is used when it already matches, otherwise everything is built from
#      the Go module proxy into ${TRADERX_CACHE}/<name>-<version>/ (build.sh);
#   3. kube-apiserver, kube-controller-manager, kube-scheduler, etcd, kwok and kwokctl for
#      the local cluster, and kubectl from Debian's kubernetes-client;
#   4. ConfigHub's `cub` and `cub-worker` at the pinned SDK commit (ambient when they report
#      it, else built from the SDK source).
# Each step prints its progress; a failing step names itself and the command to retry.
set -euo pipefail
# shellcheck source=toolchain/lib.sh
source "$(dirname "$0")/lib.sh"

LOG_DIR="$TRADERX_CACHE/logs"
mkdir -p "$LOG_DIR"
T0=$(date +%s)

# step NAME RETRY-COMMAND CMD...: run CMD with its output in a log, report time or failure.
step() {
  local name=$1 retry=$2; shift 2
  local t=$SECONDS log="$LOG_DIR/$name.log"
  log "step $name ..."
  if "$@" >"$log" 2>&1; then
    log "step $name ok ($((SECONDS - t))s)"
  else
    tail -n 25 "$log" >&2
    die "step '$name' failed (log: $log). Retry with: $retry"
  fi
}

ambient_pulumi_ok() {
  local p
  p=$(command -v pulumi 2>/dev/null) || return 1
  case "$p" in "$TRADERX_CACHE"/*) return 1 ;; esac
  [ "$(pulumi version 2>/dev/null)" = "v$PULUMI_VERSION" ] || return 1
  local plugins
  plugins=$(pulumi plugin ls 2>/dev/null) || return 1
  grep -Eq "^kubernetes[[:space:]]+resource[[:space:]]+${PULUMI_KUBERNETES_VERSION}[[:space:]]" <<<"$plugins" &&
    grep -Eq "^command[[:space:]]+resource[[:space:]]+${PULUMI_COMMAND_VERSION}[[:space:]]" <<<"$plugins"
}

# plugin_install NAME VERSION BINARY: register a built provider in our PULUMI_HOME, offline;
# again when the registered one was built elsewhere (another recipe of the same version).
# A marker in the plugin's directory names the binary it came from: comparing the binaries
# themselves would read 300 MB at every bootstrap.
plugin_install() {
  local name=$1 ver=$2 bin=$3
  local dir="$PULUMI_HOME_DIR/plugins/resource-$name-v$ver"
  if [ -x "$dir/pulumi-resource-$name" ] && [ "$(cat "$dir/.traderx-built-from" 2>/dev/null)" = "$bin" ]; then
    echo "$name $ver already installed (from $bin)"
    return 0
  fi
  PULUMI_HOME="$PULUMI_HOME_DIR" PULUMI_SKIP_UPDATE_CHECK=true \
    "$PULUMI_DIR/bin/pulumi" plugin install --reinstall resource "$name" "$ver" --file "$bin"
  printf '%s' "$bin" >"$dir/.traderx-built-from"
}

ensure_kubectl() {
  command -v kubectl >/dev/null && { kubectl version --client; return 0; }
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q kubernetes-client
  kubectl version --client
}

step venv "make venv" bash "$TOOLCHAIN_DIR/venv.sh"

if [ "${TRADERX_FORCE_BUILD:-}" != 1 ] && ambient_pulumi_ok; then
  log "using the ambient Pulumi $(pulumi version) at $(command -v pulumi) with its plugins"
  echo ambient >"$TRADERX_CACHE/toolchain-mode"
else
  echo built >"$TRADERX_CACHE/toolchain-mode"
  command -v go >/dev/null || die "step go: the Go toolchain is needed to build Pulumi (apt-get install golang-go, or Go >= 1.26)"
  log "building the pinned toolchain into $TRADERX_CACHE (cold: tens of minutes on 2 cores)"
  for piece in pulumi language-python kubernetes-provider; do
    step "$piece" "bash toolchain/build.sh $piece" bash "$TOOLCHAIN_DIR/build.sh" "$piece"
  done
  # Next to the CLI, the language host and the dynamic-provider shim count as bundled
  # plugins (no "using ... from $PATH" warning on every run).
  step link-bundled "make bootstrap" ln -sf "$LANGHOST_DIR"/bin/* "$PULUMI_DIR/bin/"
  # The module proxy reachable here serves neither pulumi-command's provider module nor its
  # pulumi-go-provider dependency; a refusal from the proxy is reported, not fatal.
  if ! bash "$TOOLCHAIN_DIR/build.sh" command-provider >"$LOG_DIR/command-provider.log" 2>&1; then
    if grep -q 'not available\|403 Forbidden' "$LOG_DIR/command-provider.log"; then
      log "WARNING: pulumi-resource-command $PULUMI_COMMAND_VERSION cannot be built: the Go module proxy"
      log "         refuses github.com/pulumi/pulumi-command/provider. Programs must not use pulumi_command."
    else
      tail -n 25 "$LOG_DIR/command-provider.log" >&2
      die "step 'command-provider' failed (log: $LOG_DIR/command-provider.log). Retry with: bash toolchain/build.sh command-provider"
    fi
  fi
  step plugin-kubernetes "make bootstrap" plugin_install kubernetes "$PULUMI_KUBERNETES_VERSION" \
    "$K8S_PROVIDER_DIR/bin/pulumi-resource-kubernetes"
  if [ -x "$COMMAND_PROVIDER_DIR/bin/pulumi-resource-command" ]; then
    step plugin-command "make bootstrap" plugin_install command "$PULUMI_COMMAND_VERSION" \
      "$COMMAND_PROVIDER_DIR/bin/pulumi-resource-command"
  fi
fi

for piece in kubernetes etcd kwok actionlint; do
  step "$piece" "bash toolchain/build.sh $piece" bash "$TOOLCHAIN_DIR/build.sh" "$piece"
done
# The vendor's cub and cub-worker: from PATH when they report the pinned SDK commit, else
# built from CONFIGHUB_SDK_DIR (default ../shared/confighub/sdk), else a message saying how.
if [ "${TRADERX_FORCE_BUILD:-}" != 1 ] && ambient_confighub_sdk; then
  log "using the ambient cub ($(command -v cub)) and cub-worker ($(command -v cub-worker)) at SDK commit ${CONFIGHUB_SDK_COMMIT:0:12}"
else
  step confighub-sdk "bash toolchain/build.sh confighub-sdk" bash "$TOOLCHAIN_DIR/build.sh" confighub-sdk
fi
step kubectl "apt-get install -y kubernetes-client" ensure_kubectl

# shellcheck source=/dev/null
source "$TOOLCHAIN_DIR/env.sh"
log "pulumi $(pulumi version) at $(command -v pulumi)"
pulumi plugin ls >&2
log "bootstrap done in $(($(date +%s) - T0))s; cache: $TRADERX_CACHE. Use: source toolchain/env.sh"
