#!/usr/bin/env bash
# Builds one pinned toolchain piece from the Go module proxy into the cache:
#   build.sh pulumi|language-python|kubernetes-provider|command-provider|kubernetes|etcd|kwok|actionlint
# Each piece gets a small wrapper module of its own (their dependency graphs pin different
# Pulumi and Kubernetes libraries and must not be resolved together) under
# <cache>/src/<name>-<version>, and its binaries in <cache>/<name>-<version>/bin. A piece
# whose `.complete` stamp exists is skipped, so re-running is cheap.
set -euo pipefail
# shellcheck source=toolchain/lib.sh
source "$(dirname "$0")/lib.sh"

SRC_ROOT="$TRADERX_CACHE/src"
GO_BUILD_FLAGS=(-trimpath -buildvcs=false)
export GOFLAGS=-mod=mod

# Path of the go.mod of MODULE@VERSION in the module cache (downloads it if needed).
gomod_of() {
  go mod download -json "$1@$2" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p'
}
# Directory of MODULE@VERSION's extracted source in the module cache.
moddir_of() {
  go mod download -json "$1@$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

# Print the replace directives of a go.mod, one per line as "OLD => NEW [VER]". Local ones
# (targets starting with . or /) are rewritten by the staging mapper ($2: "k8s MINOR.PATCH")
# or dropped; remote ones are kept, since only the main module's replaces take effect.
replaces_of() {
  awk -v mode="${2:-}" '
    function emit(line,   parts, n, old, tgt) {
      sub(/\/\/.*/, "", line); gsub(/^[ \t]+|[ \t]+$/, "", line)
      if (line == "" || index(line, "=>") == 0) return
      n = split(line, parts, /[ \t]*=>[ \t]*/); old = parts[1]; tgt = parts[2]
      if (tgt ~ /^[.\/]/) {
        if (mode ~ /^k8s / && tgt ~ /staging\/src\//) {
          split(old, o, " "); printf "%s => %s v0.%s\n", o[1], o[1], substr(mode, 5)
        }
        return
      }
      printf "%s => %s\n", old, tgt
    }
    /^replace[ \t]*\($/ { inblock = 1; next }
    inblock && /^\)/ { inblock = 0; next }
    inblock { emit($0); next }
    /^replace[ \t]/ { l = $0; sub(/^replace[ \t]+/, "", l); emit(l) }
  ' "$1"
}

# new_wrapper NAME-VERSION: a fresh wrapper module directory; prints its path.
new_wrapper() {
  local dir="$SRC_ROOT/$1"
  rm -rf "$dir" && mkdir -p "$dir"
  printf '%s' "$dir"
}

write_gomod() { # dir module-path requires(newline-separated "MOD VER") replaces(newline list)
  local dir=$1 mod=$2 reqs=$3 reps=$4
  {
    printf 'module %s\n\ngo 1.26\n\nrequire (\n' "$mod"
    printf '%s\n' "$reqs" | sed '/^$/d; s/^/\t/'
    printf ')\n'
    if [ -n "$reps" ]; then printf '\nreplace (\n'; printf '%s\n' "$reps" | sed '/^$/d; s/^/\t/'; printf ')\n'; fi
  } >"$dir/go.mod"
}

finish() { # out-dir: mark a piece complete
  date -u +%FT%TZ >"$1/.complete"
  log "built $(basename "$1") -> $1/bin"
}

build_pulumi() {
  local out="$PULUMI_DIR" v="v$PULUMI_VERSION" dir reps
  [ -f "$out/.complete" ] && { log "pulumi $PULUMI_VERSION: cached"; return; }
  dir=$(new_wrapper "pulumi-$PULUMI_VERSION")
  reps=$(replaces_of "$(gomod_of github.com/pulumi/pulumi/pkg/v3 "$v")")
  write_gomod "$dir" traderx.local/build/pulumi \
    "github.com/pulumi/pulumi/pkg/v3 $v
github.com/pulumi/pulumi/sdk/v3 $v" "$reps"
  mkdir -p "$out/bin"
  (cd "$dir" && go build "${GO_BUILD_FLAGS[@]}" -tags "$PULUMI_GO_TAGS" \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$v" \
    -o "$out/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  finish "$out"
}

build_language_python() {
  # Our own Python language host (toolchain/langhost): the upstream host module is not
  # served by the proxy. Its two script companions ship inside the sdk/v3 module.
  local out="$LANGHOST_DIR" v="v$PULUMI_VERSION" dir sdkdir reps
  [ -f "$out/.complete" ] && { log "pulumi-language-python $PULUMI_VERSION: cached"; return; }
  dir=$(new_wrapper "pulumi-language-python-$PULUMI_VERSION")
  cp "$TOOLCHAIN_DIR"/langhost/*.go "$dir/"
  reps=$(replaces_of "$(gomod_of github.com/pulumi/pulumi/pkg/v3 "$v")")
  write_gomod "$dir" traderx.local/build/pulumi-language-python \
    "github.com/pulumi/pulumi/pkg/v3 $v
github.com/pulumi/pulumi/sdk/v3 $v" "$reps"
  mkdir -p "$out/bin"
  (cd "$dir" && go mod tidy && go build "${GO_BUILD_FLAGS[@]}" -tags "$PULUMI_GO_TAGS" \
    -ldflags "-s -w -X main.version=$v" -o "$out/bin/pulumi-language-python" .)
  sdkdir=$(moddir_of github.com/pulumi/pulumi/sdk/v3 "$v")
  install -m 0755 "$sdkdir/python/cmd/pulumi-language-python-exec" "$out/bin/"
  install -m 0755 "$sdkdir/python/dist/pulumi-resource-pulumi-python" "$out/bin/"
  install -m 0755 "$sdkdir/python/dist/pulumi-analyzer-policy-python" "$out/bin/" 2>/dev/null || true
  finish "$out"
}

build_kubernetes_provider() {
  # The provider's own main embeds a generated, minified schema; ours embeds the schema.json
  # that ships in the module, stamped with the version here (stamp.go), not at every start.
  local out="$K8S_PROVIDER_DIR" v="$PULUMI_KUBERNETES_MODULE_VERSION" dir moddir reps
  local mod=github.com/pulumi/pulumi-kubernetes/provider/v4
  [ -f "$out/.complete" ] && { log "pulumi-resource-kubernetes $PULUMI_KUBERNETES_VERSION: cached"; return; }
  dir=$(new_wrapper "pulumi-resource-kubernetes-$PULUMI_KUBERNETES_VERSION")
  moddir=$(moddir_of "$mod" "$v")
  cp "$TOOLCHAIN_DIR/k8sprovider/main.go" "$TOOLCHAIN_DIR/k8sprovider/stamp.go" "$dir/"
  cp "$moddir/cmd/pulumi-resource-kubernetes/schema.json" "$moddir/cmd/pulumi-resource-kubernetes/terraform-mapping.json" "$dir/"
  chmod u+w "$dir"/*.json
  reps=$(replaces_of "$(gomod_of "$mod" "$v")")
  write_gomod "$dir" traderx.local/build/pulumi-resource-kubernetes "$mod $v" "$reps"
  mkdir -p "$out/bin"
  (cd "$dir" && go run stamp.go "$PULUMI_KUBERNETES_VERSION" && go mod tidy &&
    go build "${GO_BUILD_FLAGS[@]}" \
    -ldflags "-s -w -X $mod/pkg/version.Version=$PULUMI_KUBERNETES_VERSION" \
    -o "$out/bin/pulumi-resource-kubernetes" .)
  finish "$out"
}

build_command_provider() {
  local out="$COMMAND_PROVIDER_DIR" v="$PULUMI_COMMAND_MODULE_VERSION" dir reps
  local mod=github.com/pulumi/pulumi-command/provider
  [ -f "$out/.complete" ] && { log "pulumi-resource-command $PULUMI_COMMAND_VERSION: cached"; return; }
  dir=$(new_wrapper "pulumi-resource-command-$PULUMI_COMMAND_VERSION")
  reps=$(replaces_of "$(gomod_of "$mod" "$v")")
  write_gomod "$dir" traderx.local/build/pulumi-resource-command "$mod $v" "$reps"
  mkdir -p "$out/bin"
  (cd "$dir" && go build "${GO_BUILD_FLAGS[@]}" \
    -ldflags "-s -w -X $mod/pkg/version.Version=v$PULUMI_COMMAND_VERSION" \
    -o "$out/bin/pulumi-resource-command" "$mod/cmd/pulumi-resource-command")
  finish "$out"
}

build_kubernetes() {
  local out="$KUBERNETES_DIR" v="v$KUBERNETES_VERSION" dir reps minor patch cmd ld
  [ -f "$out/.complete" ] && { log "kubernetes $KUBERNETES_VERSION: cached"; return; }
  minor=$(cut -d. -f2 <<<"$KUBERNETES_VERSION"); patch=$(cut -d. -f3 <<<"$KUBERNETES_VERSION")
  dir=$(new_wrapper "kubernetes-$KUBERNETES_VERSION")
  reps=$(replaces_of "$(gomod_of k8s.io/kubernetes "$v")" "k8s $minor.$patch")
  write_gomod "$dir" traderx.local/build/kubernetes "k8s.io/kubernetes $v" "$reps"
  printf 'godebug default=go1.%s\n' "$(go env GOVERSION | cut -d. -f2)" >>"$dir/go.mod"
  ld="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  mkdir -p "$out/bin"
  for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
    log "  go build $cmd"
    (cd "$dir" && go build "${GO_BUILD_FLAGS[@]}" -ldflags "$ld" -o "$out/bin/$cmd" \
      "k8s.io/kubernetes/cmd/$cmd")
  done
  finish "$out"
}

build_etcd() {
  local out="$ETCD_DIR" v="v$ETCD_VERSION" dir reps
  [ -f "$out/.complete" ] && { log "etcd $ETCD_VERSION: cached"; return; }
  dir=$(new_wrapper "etcd-$ETCD_VERSION")
  reps=$(replaces_of "$(gomod_of go.etcd.io/etcd/server/v3 "$v")")
  write_gomod "$dir" traderx.local/build/etcd "go.etcd.io/etcd/server/v3 $v" "$reps"
  mkdir -p "$out/bin"
  (cd "$dir" && go build "${GO_BUILD_FLAGS[@]}" \
    -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=v$ETCD_VERSION" \
    -o "$out/bin/etcd" go.etcd.io/etcd/server/v3)
  finish "$out"
}

build_kwok() {
  local out="$KWOK_DIR" v="v$KWOK_VERSION" dir reps cmd
  [ -f "$out/.complete" ] && { log "kwok $KWOK_VERSION: cached"; return; }
  dir=$(new_wrapper "kwok-$KWOK_VERSION")
  reps=$(replaces_of "$(gomod_of sigs.k8s.io/kwok "$v")")
  write_gomod "$dir" traderx.local/build/kwok "sigs.k8s.io/kwok $v" "$reps"
  mkdir -p "$out/bin"
  for cmd in kwok kwokctl; do
    (cd "$dir" && go build "${GO_BUILD_FLAGS[@]}" \
      -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$KUBERNETES_VERSION" \
      -o "$out/bin/$cmd" "sigs.k8s.io/kwok/cmd/$cmd")
  done
  finish "$out"
}

build_actionlint() {
  local out="$ACTIONLINT_DIR"
  [ -f "$out/.complete" ] && { log "actionlint $ACTIONLINT_VERSION: cached"; return; }
  mkdir -p "$out/bin"
  # A plain published module: `go install MOD@VERSION` resolves it on its own go.mod.
  GOFLAGS='' GOBIN="$out/bin" go install "${GO_BUILD_FLAGS[@]}" \
    "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION"
  finish "$out"
}

build_confighub_sdk() {
  # The vendor's own CLI and bridge worker at the pinned commit, built from a copy of the SDK
  # source (CONFIGHUB_SDK_DIR, default ../shared/confighub/sdk beside the checkout) outside the
  # repo, stamped with that commit so `cub version` / `cub-worker version` report it. (Binaries
  # on PATH that report the pinned commit are used instead; bootstrap.sh checks that.)
  local out="$CONFIGHUB_SDK_BIN_DIR" src="${CONFIGHUB_SDK_DIR:-$REPO_ROOT/../shared/confighub/sdk}" dir cmd head
  if [ -f "$out/.complete" ] && [ "$(sdk_commit_of "$out/bin/cub")" = "$CONFIGHUB_SDK_COMMIT" ] &&
    [ "$(sdk_commit_of "$out/bin/cub-worker")" = "$CONFIGHUB_SDK_COMMIT" ]; then
    log "confighub sdk ${CONFIGHUB_SDK_COMMIT:0:12}: cached"
    return
  fi
  local how="put \`cub\` and \`cub-worker\` built from github.com/confighub/sdk at $CONFIGHUB_SDK_COMMIT on PATH (go build -ldflags '-X main.BuildTag=$CONFIGHUB_SDK_COMMIT' ./cmd/cub ./cmd/cub-worker, so their \`version\` reports it), or set CONFIGHUB_SDK_DIR to a copy of that SDK commit's source"
  [ -f "$src/cmd/cub/main.go" ] && [ -f "$src/cmd/cub-worker/main.go" ] ||
    die "no ConfigHub SDK source at '$src' and no cub/cub-worker of commit ${CONFIGHUB_SDK_COMMIT:0:12} on PATH: $how"
  if [ -e "$src/.git" ]; then # a git checkout must be at the pinned commit; a plain copy is trusted
    head=$(git -C "$src" rev-parse HEAD 2>/dev/null || true)
    [ "$head" = "$CONFIGHUB_SDK_COMMIT" ] ||
      die "the SDK checkout '$src' is at '${head:-?}', pinned is $CONFIGHUB_SDK_COMMIT: check it out, or $how"
  fi
  command -v go >/dev/null || die "building cub and cub-worker needs the Go toolchain (apt-get install golang-go), or $how"
  dir=$(new_wrapper "confighub-sdk-${CONFIGHUB_SDK_COMMIT:0:12}")
  cp -r "$src"/. "$dir/"
  chmod -R u+w "$dir"
  rm -f "$out/.complete"
  mkdir -p "$out/bin"
  for cmd in cub cub-worker; do
    log "  go build $cmd"
    # built beside the target and renamed over it: a process running the old binary keeps it
    (cd "$dir" && GOFLAGS='' go build "${GO_BUILD_FLAGS[@]}" \
      -ldflags "-s -w -X main.BuildTag=$CONFIGHUB_SDK_COMMIT -X main.BuildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
      -o "$out/bin/.$cmd.new" "./cmd/$cmd")
    [ "$(sdk_commit_of "$out/bin/.$cmd.new")" = "$CONFIGHUB_SDK_COMMIT" ] || die "the $cmd just built does not report commit $CONFIGHUB_SDK_COMMIT"
    mv -f "$out/bin/.$cmd.new" "$out/bin/$cmd"
  done
  printf '%s\n' "$CONFIGHUB_SDK_COMMIT" >"$out/commit"
  finish "$out"
}

main() {
  [ $# -ge 1 ] || die "usage: build.sh PIECE... (pulumi language-python kubernetes-provider command-provider kubernetes etcd kwok actionlint confighub-sdk)"
  for piece in "$@"; do
    case "$piece" in
      pulumi) build_pulumi ;;
      language-python) build_language_python ;;
      kubernetes-provider) build_kubernetes_provider ;;
      command-provider) build_command_provider ;;
      kubernetes) build_kubernetes ;;
      etcd) build_etcd ;;
      kwok) build_kwok ;;
      actionlint) build_actionlint ;;
      confighub-sdk) build_confighub_sdk ;;
      *) die "unknown piece '$piece'" ;;
    esac
  done
}
main "$@"
