#!/usr/bin/env bash
# The project's virtualenv (.venv) with the pinned Python dependencies. Creates it when
# missing and runs pip only when requirements*.txt changed since the last successful
# install (hash stamp inside the venv), so repeated runs cost well under a second.
set -euo pipefail
# shellcheck source=toolchain/lib.sh
source "$(dirname "$0")/lib.sh"

VENV="${TRADERX_VENV:-$REPO_ROOT/.venv}"
STAMP="$VENV/.traderx-requirements.sha256"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  log "venv: creating $VENV with $("$PYTHON" --version 2>&1)"
  "$PYTHON" -m venv "$VENV" || die "venv: '$PYTHON -m venv $VENV' failed; retry: make venv"
fi

want=$(cat "$REPO_ROOT/requirements.txt" "$REPO_ROOT/requirements-dev.txt" "$REPO_ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)
have=$(cat "$STAMP" 2>/dev/null || true)
if [ "$want" != "$have" ]; then
  log "venv: installing pinned requirements (requirements-dev.txt)"
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REPO_ROOT/requirements-dev.txt" \
    || die "venv: pip install failed; retry: make venv"
  # The project itself, editable and without dependencies: installs the `traderx` console script.
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e "$REPO_ROOT" \
    || die "venv: installing the project (pip install -e .) failed; retry: make venv"
  printf '%s\n' "$want" >"$STAMP"
fi
log "venv: ready ($VENV)"
