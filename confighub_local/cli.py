"""Command line: `serve` runs the API (and optionally the Kubernetes bridge worker)."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError

from confighub_local import operations
from confighub_local.app import Settings, create_app, default_db
from confighub_local.context import ServerState
from confighub_local.faults import FaultConfig, FaultRule, parse_config
from confighub_local.middleware import DEFAULT_MAX_BODY_BYTES
from confighub_local.private_files import UnsafeFile

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
        Path | None, typer.Option(help="run the Kubernetes bridge worker against this cluster")
    ] = None,
    ready_timeout: Annotated[
        float, typer.Option(help="seconds the worker waits for Deployments to be available")
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
    settings = Settings(
        db=db or default_db(),
        host=host,
        port=port,
        token_file=token_file,
        kubeconfig=str(kubeconfig) if kubeconfig else None,
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
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    _Server(config, app.state.chub).run()


class _Server(uvicorn.Server):
    """On SIGTERM/SIGINT, end worker streams first: open streams would hold shutdown."""

    def __init__(self, config: uvicorn.Config, state: ServerState) -> None:
        super().__init__(config)
        self.chub = state

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        supervisor = self.chub.extras.get("supervisor")
        if supervisor is not None:
            supervisor.shutdown()
        operations.dispatcher(self.chub).close()
        super().handle_exit(sig, frame)


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
def worker(
    url: Annotated[str, typer.Option(help="server root, e.g. http://127.0.0.1:8765")],
    worker_id: Annotated[str, typer.Option(help="BridgeWorkerID")],
    kubeconfig: Annotated[Path, typer.Option(help="kubeconfig of the target cluster")],
    secret: Annotated[
        str, typer.Option(envvar="CONFIGHUB_WORKER_SECRET", help="the worker's secret")
    ],
    ready_timeout: Annotated[float, typer.Option(help="readiness wait, seconds")] = 120.0,
    log_level: Annotated[str, typer.Option(help="log level")] = "info",
) -> None:
    """Run one Kubernetes bridge worker against a server until interrupted."""
    from confighub_local.worker.runner import WorkerRunner, kube_factory

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    runner = WorkerRunner(url, worker_id, secret, kube_factory(str(kubeconfig), ready_timeout))
    # stop taking work on SIGTERM/SIGINT; operations already running finish and report
    signal.signal(signal.SIGTERM, lambda *_: runner.shutdown())
    signal.signal(signal.SIGINT, lambda *_: runner.shutdown())
    runner.run()


@cli.command()
def version() -> None:
    """Print the server version."""
    from confighub_local import __version__

    typer.echo(__version__)
