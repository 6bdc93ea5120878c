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
K8S_PROVIDER_DIR="$TRADERX_CACHE/pulumi-resource-kubernetes-$PULUMI_KUBERNETES_VERSION"
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

log() { printf '[toolchain] %s\n' "$*" >&2; }
die() { printf '[toolchain] ERROR: %s\n' "$*" >&2; exit 1; }
