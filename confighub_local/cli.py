"""Command line: `serve` runs the API (and, with --kubeconfig, the official bridge worker for
every BridgeWorker registered on it)."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer
from fastapi import FastAPI
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig
from pydantic import ValidationError

from confighub_local import operations
from confighub_local.app import Settings, create_app, default_db
from confighub_local.context import ServerState
from confighub_local.faults import FaultConfig, FaultRule, parse_config
from confighub_local.middleware import DEFAULT_MAX_BODY_BYTES
from confighub_local.private_files import UnsafeFile
from confighub_local.worker.supervisor import WorkerBinaryMissing

cli = typer.Typer(add_completion=False, help="Local ConfigHub-compatible server.")


@cli.command()
def serve(
    db: Annotated[
        str | None,
        typer.Option(help="SQLite file, or :memory: [default: $XDG_STATE_HOME/confighub-local/]"),
    ] = None,
    host: Annotated[str, typer.Option(help="listen address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="listen port")] = 8765,
    token_file: Annotated[
        Path | None, typer.Option(help="file holding the API token (else CONFIGHUB_TOKEN)")
    ] = None,
    kubeconfig: Annotated[
        Path | None,
        typer.Option(help="run the official cub-worker for every BridgeWorker, on this cluster"),
    ] = None,
    worker_bin: Annotated[
        str | None,
        typer.Option(
            envvar="CONFIGHUB_WORKER_BIN", help="the cub-worker binary [default: from PATH]"
        ),
    ] = None,
    ready_timeout: Annotated[
        float,
        typer.Option(help="WaitTimeout (s) for Targets that declare no readiness timeout"),
    ] = 120.0,
    fault_route: Annotated[str, typer.Option(help="fault rule: path regex")] = ".*",
    fault_latency_ms: Annotated[int, typer.Option(help="fault rule: added latency")] = 0,
    fault_error_rate: Annotated[float, typer.Option(help="fault rule: error probability")] = 0.0,
    fault_status: Annotated[int, typer.Option(help="fault rule: 500/502/503/504/429")] = 503,
    fault_retry_after: Annotated[int, typer.Option(help="fault rule: Retry-After seconds")] = 1,
    fault_drop_rate: Annotated[
        float, typer.Option(help="fault rule: dropped-connection probability")
    ] = 0.0,
    faults_json: Annotated[
        str | None,
        typer.Option(envvar="CONFIGHUB_FAULTS", help="full fault config as JSON (rules, seed)"),
    ] = None,
    operation_timeout: Annotated[
        float, typer.Option(help="seconds after which an unfinished operation is Failed")
    ] = 1800.0,
    log_level: Annotated[str, typer.Option(help="log level")] = "warning",
    max_body_bytes: Annotated[
        int,
        typer.Option(envvar="CONFIGHUB_MAX_BODY_BYTES", min=1024, help="larger bodies get 413"),
    ] = DEFAULT_MAX_BODY_BYTES,
) -> None:
    """Serve the API under /api until interrupted."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    for name in ("hpack", "h2", "h11"):  # at debug they print request headers: tokens, secrets
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.root.level))
    settings = Settings(
        db=db or default_db(),
        host=host,
        port=port,
        token_file=token_file,
        kubeconfig=str(kubeconfig) if kubeconfig else None,
        worker_bin=worker_bin,
        ready_timeout=ready_timeout,
        operation_timeout=operation_timeout,
        max_body_bytes=max_body_bytes,
        faults=_faults(
            faults_json,
            fault_route,
            fault_latency_ms,
            fault_error_rate,
            fault_status,
            fault_retry_after,
            fault_drop_rate,
        ),
    )
    try:
        app = create_app(settings)
    except UnsafeFile as exc:  # a token/DB path someone else could control: say so, no trace
        typer.echo(f"confighub-local: {exc}", err=True)
        raise typer.Exit(2) from None
    except WorkerBinaryMissing as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    asyncio.run(_serve(app, app.state.chub, host, port, log_level))


def _hypercorn_config(host: str, port: int, log_level: str) -> HypercornConfig:
    """HTTP/1.1 and HTTP/2 cleartext on one port: hypercorn takes a connection that opens with
    the HTTP/2 preface as h2c with prior knowledge, as the official cub-worker speaks on
    http:// URLs; every other client keeps HTTP/1.1."""
    config = HypercornConfig()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.loglevel = log_level.upper()
    config.graceful_timeout = 5.0
    config.keep_alive_timeout = 75.0  # longer than clients' idle pools: no reset mid-request
    return config


async def _serve(app: FastAPI, state: ServerState, host: str, port: int, log_level: str) -> None:
    """Serve until SIGTERM/SIGINT; then stop the workers and end their streams first, since
    open streams would hold the graceful shutdown."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def shutdown_trigger() -> None:
        await stop.wait()
        supervisor = state.extras.get("supervisor")
        if supervisor is not None:
            await asyncio.to_thread(supervisor.shutdown)
        operations.dispatcher(state).close()

    await hypercorn_serve(
        app,  # type: ignore[arg-type]
        _hypercorn_config(host, port, log_level),
        shutdown_trigger=shutdown_trigger,
    )


def _faults(
    raw: str | None,
    route: str,
    latency: int,
    error_rate: float,
    status: int,
    retry_after: int,
    drop_rate: float,
) -> FaultConfig | None:
    """CONFIGHUB_FAULTS / --faults-json wins; else one rule from the --fault-* flags."""
    try:
        if raw:
            return parse_config(raw, "CONFIGHUB_FAULTS/--faults-json")
        if not (latency or error_rate or drop_rate):
            return None
        rule = FaultRule.model_validate(
            {
                "route": route,
                "latency_ms": latency,
                "error_rate": error_rate,
                "error_status": status,
                "retry_after": retry_after,
                "drop_rate": drop_rate,
            }
        )
        return FaultConfig(rules=[rule])
    except (ValueError, ValidationError) as exc:
        raise typer.BadParameter(str(exc)) from None


@cli.command()
def version() -> None:
    """Print the server version."""
    from confighub_local import __version__

    typer.echo(__version__)
