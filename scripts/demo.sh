#!/usr/bin/env bash
# make demo: the embedded default, end to end.
#   1. toolchain (cached) and the local kwok cluster
#   2. the local ConfigHub server on 127.0.0.1:${CONFIGHUB_PORT:-8765}, running ConfigHub's
#      official bridge worker (cub-worker) for every BridgeWorker the stacks declare
#   3. pulumi up of dev, staging (downstream of dev) and prod (pinned to staging's revisions)
#   4. where to look
# Re-running is safe: the server and the stacks are reused; `up` converges.
# `scripts/demo.sh down` (make demo-down) unprotects prod, destroys the three stacks and stops
# the server. State (server DB, token, Pulumi file backend, and a project directory whose stack
# files hold the demo's prefix, pins, password and encryption salt) lives in .state/demo
# (git-ignored), so the demo never writes into the checkout's Pulumi.<stack>.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
STATE="$ROOT/.state/demo"
PROJECT="$STATE/project"
PORT="${CONFIGHUB_PORT:-8765}"
mkdir -p "$STATE"

say() { printf '\n==> %s\n' "$*"; }

# The demo's project directory: the program linked from the checkout, the stack files copied
# from it once (they then carry the demo's own settings).
mkdir -p "$PROJECT"
for f in Pulumi.yaml __main__.py components .venv requirements.txt; do
  [ -e "$PROJECT/$f" ] || ln -s "$ROOT/$f" "$PROJECT/$f"
done
for s in dev staging prod; do
  [ -f "$PROJECT/Pulumi.$s.yaml" ] || cp "Pulumi.$s.yaml" "$PROJECT/Pulumi.$s.yaml"
done
p() { pulumi --non-interactive --cwd "$PROJECT" "$@"; }

say "toolchain (cached after the first run) and local cluster"
bash toolchain/bootstrap.sh
bash toolchain/cluster.sh up
# shellcheck source=/dev/null
source toolchain/env.sh
[ -n "${KUBECONFIG:-}" ] || { echo "demo: no KUBECONFIG after cluster-up" >&2; exit 1; }

say "local ConfigHub server on 127.0.0.1:$PORT (with the official bridge worker, cub-worker)"
if [ ! -s "$STATE/token" ]; then
  (umask 077 && printf 'chl_demo_%s\n' "$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')" >"$STATE/token")
fi
if curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
  if [ -f "$STATE/server.pid" ] && kill -0 "$(cat "$STATE/server.pid")" 2>/dev/null; then
    echo "reusing the demo server (pid $(cat "$STATE/server.pid"))"
  else
    echo "demo: something else answers on port $PORT; stop it or set CONFIGHUB_PORT" >&2
    exit 1
  fi
else
  nohup .venv/bin/python -m confighub_local serve --db "$STATE/confighub.db" --port "$PORT" \
    --token-file "$STATE/token" --kubeconfig "$KUBECONFIG" >"$STATE/server.log" 2>&1 &
  echo $! >"$STATE/server.pid"
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null || { tail -20 "$STATE/server.log"; exit 1; }
fi
export CONFIGHUB_URL="http://127.0.0.1:$PORT"
CONFIGHUB_TOKEN=$(cat "$STATE/token")
export CONFIGHUB_TOKEN

export PULUMI_BACKEND_URL="file://$STATE/pulumi?metadata=skip"  # crash-safe: see toolchain/env.sh
mkdir -p "$STATE/pulumi"

# The stack files name the default port; the demo's copies follow CONFIGHUB_PORT.
point_at_server() {
  if [ "$(p config get confighub:url -s "$1" 2>/dev/null || true)" != "$CONFIGHUB_URL" ]; then
    p config set confighub:url "$CONFIGHUB_URL" -s "$1"
  fi
}

# resources_in STACK: how many resources its state holds (the stack itself counts one).
resources_in() {
  p stack export -s "$1" | .venv/bin/python -c \
    'import json, sys; print(len(json.load(sys.stdin)["deployment"].get("resources") or []))'
}

if [ "${1:-up}" = down ]; then
  say "tearing the demo down"
  for s in dev staging prod; do
    if p stack select "$s" 2>/dev/null; then point_at_server "$s"; fi
  done
  if p stack select prod 2>/dev/null && [ "$(resources_in prod)" -gt 1 ]; then
    # prod's Spaces and Units are protected (traderx:protect); unprotect the way an operator
    # would, then destroy downstream first. (A prod never brought up has nothing to unprotect,
    # and its `up` would fail on the unpinned images.)
    p config set traderx:protect false -s prod
    p up --yes --skip-preview -s prod
  fi
  for s in prod staging dev; do
    if p stack select "$s" 2>/dev/null; then p destroy --yes --skip-preview -s "$s"; fi
  done
  if [ -f "$STATE/server.pid" ]; then kill "$(cat "$STATE/server.pid")" 2>/dev/null || true; fi
  rm -f "$STATE/server.pid"
  echo "demo destroyed; state kept in $STATE (delete it to start over); cluster: make cluster-down"
  exit 0
fi

# Create the stacks that do not exist yet, sharing one passphrase salt (one key derivation
# per `up`, the StackReference included); existing stacks are only selected.
.venv/bin/traderx stacks init dev staging prod --project-dir "$PROJECT" >/dev/null
for s in dev staging prod; do
  point_at_server "$s"
done
p stack select dev >/dev/null

# The prefix is chosen once and kept in the dev stack config (pulumi_random is unavailable and
# a fresh random value per run would orphan the spaces of the previous one).
if ! p config get traderx:prefix -s dev >/dev/null 2>&1; then
  prefix="demo-$(head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  p config set traderx:prefix "$prefix" -s dev
fi
if ! p config get traderx:databasePassword -s prod >/dev/null 2>&1; then
  head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | p config set --secret traderx:databasePassword -s prod
fi

say "pulumi up -s dev (base, filters, dev)"
p up --yes --skip-preview -s dev
say "pulumi up -s staging (downstream of dev)"
p up --yes --skip-preview -s staging

# prod runs only pinned revisions: pin every unpinned service to staging's current revision.
revisions=$(p stack output unitRevisions --json -s staging)
for svc in database reference-data trade-feed people-service account-service position-service \
  trade-processor trade-service web-front-end; do
  if ! p config get --path "traderx:promote[\"$svc\"]" -s prod >/dev/null 2>&1; then
    rev=$(printf '%s' "$revisions" | .venv/bin/python -c "import json,sys; print(json.load(sys.stdin)['$svc'])")
    p config set --path "traderx:promote[\"$svc\"]" "$rev" -s prod
  fi
done
say "pulumi up -s prod (downstream of staging, pinned)"
p up --yes --skip-preview -s prod

say "where to look"
for s in dev staging prod; do
  echo "--- $s"
  p stack output urls --json -s "$s"
done
echo
kubectl get deployments -A -l app.kubernetes.io/part-of=traderx
echo
echo "ConfigHub spaces:  curl -s -H \"Authorization: Bearer \$(cat $STATE/token)\" $CONFIGHUB_URL/api/space | python3 -m json.tool"
echo "Stack outputs:     PULUMI_BACKEND_URL=$PULUMI_BACKEND_URL pulumi --cwd $PROJECT stack output -s dev"
echo "Promote (in $PROJECT): pulumi config set --path 'traderx:promote[\"trade-service\"]' <dev revision> -s staging && pulumi up -s staging"
echo "Tear down:         make demo-down    Cluster: make cluster-down"
