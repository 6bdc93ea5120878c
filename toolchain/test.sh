#!/usr/bin/env bash
# `make test` (and CI's .ci/run): bootstrap (cached), start the local cluster unless one is
# already running, run the whole pytest suite with the real-engine tests required (they
# fail instead of skipping), stop the cluster it started also when tests fail, and exit with
# pytest's status.
set -euo pipefail
# shellcheck source=toolchain/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

T0=$SECONDS
log "test: bootstrap"
bash "$TOOLCHAIN_DIR/bootstrap.sh"

started_cluster=0
# shellcheck disable=SC2329  # invoked by the EXIT trap
cleanup() {
  if [ "$started_cluster" = 1 ]; then
    log "test: stopping the cluster this run started"
    bash "$TOOLCHAIN_DIR/cluster.sh" down || log "test: cluster down failed"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if bash "$TOOLCHAIN_DIR/cluster.sh" status >/dev/null 2>&1; then
  log "test: reusing the running local cluster"
else
  started_cluster=1
  t=$SECONDS
  bash "$TOOLCHAIN_DIR/cluster.sh" up >/dev/null
  log "test: cluster up in $((SECONDS - t))s"
fi

# shellcheck source=/dev/null
source "$TOOLCHAIN_DIR/env.sh"
export TRADERX_REQUIRE_REAL=1
log "test: pytest (after $((SECONDS - T0))s of setup)"
set +e
"$REPO_ROOT/.venv/bin/python" -m pytest "$@"
status=$?
set -e
log "test: pytest exited $status after $((SECONDS - T0))s in total"
exit $status
