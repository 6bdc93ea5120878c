"""Application factory: store, organization bootstrap, auth, routers under /api."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from confighub_local import errors, hooks  # noqa: F401  (hooks registers per-kind rules)
from confighub_local.auth import load_or_create_token
from confighub_local.body_drain import BodyDrainMiddleware
from confighub_local.context import ServerState
from confighub_local.db import Store
from confighub_local.db.store import new_id, now
from confighub_local.faults import FaultConfig, FaultMiddleware, Faults
from confighub_local.middleware import (
    DEFAULT_MAX_BODY_BYTES,
    AuthMiddleware,
    BodyLimitMiddleware,
    CatchAllMiddleware,
    UuidCaseMiddleware,
)
from confighub_local.private_files import ensure_db_file
from confighub_local.reaper import Reaper
from confighub_local.routes import (
    bulk,
    entities,
    functions,
    meta,
    operations,
    spaces,
    units,
    worker_api,
)
from confighub_local.worker_secret import SecretBox

log = logging.getLogger("confighub_local")


@dataclass
class Settings:
    db: str = ":memory:"
    host: str = "127.0.0.1"
    port: int = 8765
    token_file: Path | None = None
    token: str | None = None  # explicit token (tests); wins over file and environment
    kubeconfig: str | None = None  # run the official cub-worker for every BridgeWorker
    worker_bin: str | None = None  # that binary (else $CONFIGHUB_WORKER_BIN, else PATH)
    ready_timeout: float = 120.0  # WaitTimeout for Targets that declare no readiness timeout
    faults: FaultConfig | None = None
    operation_timeout: float = 1800.0  # an open operation older than this is Failed
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES  # larger request bodies get 413


def default_db() -> str:
    """Outside any checkout, so neither the data nor the generated token lands in a repo."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    folder = base / "confighub-local"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return str(folder / "confighub.db")


def _bootstrap_org(store: Store) -> tuple[str, str]:
    """One default organization and its one user, created on first start."""
    org_id = store.meta_get("org_id")
    user_id = store.meta_get("user_id")
    if org_id and user_id:
        return org_id, user_id
    org_id, user_id, stamp = new_id(), new_id(), now()
    with store.tx():
        store.insert(
            "Organization",
            org_id,
            {
                "OrganizationID": org_id,
                "Slug": "default",
                "DisplayName": "Default organization",
                "ExternalID": "local",
                "Labels": {},
                "Annotations": {},
                "CreatedAt": stamp,
                "UpdatedAt": stamp,
                "Version": 1,
                "EntityType": "Organization",
            },
            slug="default",
        )
        store.insert(
            "User",
            user_id,
            {
                "UserID": user_id,
                "Slug": "local",
                "Username": "local",
                "DisplayName": "Local user",
                "ExternalID": "local",
                "CreatedAt": stamp,
                "UpdatedAt": stamp,
                "Version": 1,
                "EntityType": "User",
            },
            slug="local",
        )
        store.meta_set("org_id", org_id)
        store.meta_set("user_id", user_id)
    return org_id, user_id


def create_app(settings: Settings) -> FastAPI:
    # A request doing CPU-bound work (parsing a large document) holds the GIL; a short switch
    # interval lets the event loop answer other requests (health checks) within milliseconds.
    sys.setswitchinterval(0.001)
    ensure_db_file(settings.db)  # 0600, created exclusively (private_files.py)
    store = Store(settings.db)
    if settings.token:
        token = settings.token
    else:
        token, _ = load_or_create_token(settings.token_file, settings.db, settings.port, store)
    org_id, user_id = _bootstrap_org(store)
    state = ServerState(store=store, token=token, org_id=org_id, user_id=user_id)
    state.extras["secret_box"] = SecretBox.for_db(settings.db)
    state.extras["ready_timeout"] = settings.ready_timeout
    app = FastAPI(title="confighub-local", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.chub = state
    errors.install(app)
    for router in (
        meta.router,
        spaces.router,
        units.router,
        bulk.router,
        functions.router,
        operations.router,
        worker_api.router,
        entities.router,
    ):
        app.include_router(router, prefix="/api")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:  # on the event loop: no thread-pool hop
        return {"status": "ok"}

    reaper = Reaper(state, settings.operation_timeout)
    app.router.on_startup.append(reaper.start)
    app.router.on_shutdown.append(reaper.shutdown)
    if settings.kubeconfig:
        _embed_workers(app, state, settings)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(AuthMiddleware, state=state)
    app.add_middleware(UuidCaseMiddleware)
    app.add_middleware(CatchAllMiddleware)
    faults = Faults(settings.faults)
    state.extras["faults"] = faults
    app.add_middleware(FaultMiddleware, faults=faults, token=token)
    app.add_middleware(BodyDrainMiddleware)  # outermost: also after auth's early 401s
    return app


def _embed_workers(app: FastAPI, state: ServerState, settings: Settings) -> None:
    """Supervise one official cub-worker per BridgeWorker with the server's lifespan. A missing
    binary fails here, before the server listens: there is no other worker to fall back to."""
    from confighub_local.worker.supervisor import Supervisor, find_worker_binary

    assert settings.kubeconfig is not None
    supervisor = Supervisor(
        state.store,
        state.extras["secret_box"],
        settings.port,
        settings.kubeconfig,
        find_worker_binary(settings.worker_bin),
    )
    app.router.on_startup.append(supervisor.start)
    app.router.on_shutdown.append(supervisor.shutdown)
    state.extras["supervisor"] = supervisor
