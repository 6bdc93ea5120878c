# Shared helpers for the toolchain scripts (sourced, not run). Loads the pinned versions and
# names the cache directories, so every script agrees on where things live.
# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables are used by the scripts that source this file

TOOLCHAIN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$TOOLCHAIN_DIR/.." && pwd)"
# shellcheck source=/dev/null
source "$TOOLCHAIN_DIR/versions.env"

TRADERX_CACHE="${TRADERX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/traderx-confighub}"
export TRADERX_CACHE
export GOTOOLCHAIN=local

# One directory per built piece, keyed by its version: <cache>/<name>-<version>/bin.
PULUMI_DIR="$TRADERX_CACHE/pulumi-$PULUMI_VERSION"
LANGHOST_DIR="$TRADERX_CACHE/pulumi-language-python-$PULUMI_VERSION"
# The kubernetes provider is built with our k8sprovider/ sources: their hash is in its key, so
# a change to them rebuilds it (and bootstrap re-registers the plugin).
K8S_PROVIDER_RECIPE=$(cat "$TOOLCHAIN_DIR"/k8sprovider/*.go | sha256sum | cut -c1-8)
K8S_PROVIDER_DIR="$TRADERX_CACHE/pulumi-resource-kubernetes-$PULUMI_KUBERNETES_VERSION-$K8S_PROVIDER_RECIPE"
COMMAND_PROVIDER_DIR="$TRADERX_CACHE/pulumi-resource-command-$PULUMI_COMMAND_VERSION"
KUBERNETES_DIR="$TRADERX_CACHE/kubernetes-$KUBERNETES_VERSION"
ETCD_DIR="$TRADERX_CACHE/etcd-$ETCD_VERSION"
KWOK_DIR="$TRADERX_CACHE/kwok-$KWOK_VERSION"
ACTIONLINT_DIR="$TRADERX_CACHE/actionlint-$ACTIONLINT_VERSION"
CONFIGHUB_SDK_BIN_DIR="$TRADERX_CACHE/confighub-sdk-${CONFIGHUB_SDK_COMMIT:0:12}"
# Pulumi's own home (plugin registry, credentials of the file backend) for this toolchain.
PULUMI_HOME_DIR="$TRADERX_CACHE/pulumi-home-$PULUMI_VERSION"
# Local cluster state (kwokctl's workdir) lives outside the repository too.
CLUSTER_NAME="${TRADERX_CLUSTER_NAME:-traderx}"
KWOK_WORKDIR="$TRADERX_CACHE/kwok-state"

# The SDK commit a `cub` or `cub-worker` binary was built from, as set at build time with
# -ldflags "-X main.BuildTag=<sha>" (what the SDK's own Makefile and our build do). The worker
# prints it in `cub-worker version` ("Commit: <sha>"); `cub version` needs a session, but with
# CONFIGHUB_DEBUG=1 it prints "version: <sha>" first (run with an empty HOME, so no session is
# found and nothing is contacted). Prints nothing for a binary without it (a plain `go build`).
sdk_commit_of() {
  local home out
  home=$(mktemp -d)
  out=$(HOME="$home" CONFIGHUB_DEBUG=1 "$1" version </dev/null 2>/dev/null || true)
  rm -rf "$home"
  sed -n -e 's/^[[:space:]]*Commit:[[:space:]]*\([0-9a-f]\{40\}\)[[:space:]]*$/\1/p' \
    -e 's/.*Debug mode enabled\. version: \([0-9a-f]\{40\}\),.*/\1/p' <<<"$out" | head -n 1
}

# ambient_confighub_sdk: 0 when `cub` and `cub-worker` outside our cache are on PATH and both
# report the pinned commit (then bootstrap uses them instead of building).
ambient_confighub_sdk() {
  local name p
  for name in cub cub-worker; do
    p=$(command -v "$name" 2>/dev/null) || return 1
    case "$p" in "$TRADERX_CACHE"/*) return 1 ;; esac
    [ "$(sdk_commit_of "$p")" = "$CONFIGHUB_SDK_COMMIT" ] || return 1
  done
}

log() { printf '[toolchain] %s\n' "$*" >&2; }
die() { printf '[toolchain] ERROR: %s\n' "$*" >&2; exit 1; }
