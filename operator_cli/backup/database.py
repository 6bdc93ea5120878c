"""The database's data directory in a backup: `tar` through the Kubernetes exec API.

TraderX's database is an H2 server whose files live in `DATABASE_DATA_DIR` (services.md). A
backup runs `tar -C "$DATABASE_DATA_DIR" -cf - .` in the database container of the running pod
(the exec API: kube-apiserver -> the node's kubelet, on kwok the kwok controller) and stores the
archive as `database/<space>.tar`, listed in the manifest with its SHA-256 like every file. A
restore streams it back (`tar -xf -` into the same directory) and then deletes the pod, so H2
starts again on the restored files (the volume outlives the pod; the Deployment makes a new one).

The command is the same on every cluster: the directory comes from the container's own
environment (`$DATABASE_DATA_DIR`). What `exec` reaches is the cluster's business - a real
container on a real node, or on the local kwok cluster a ClusterExec that maps the database
container of a namespace to a host directory standing in for its persistent volume
(`tests/ops/kwok_volume.py`). The archive ends with tar's end-of-archive blocks, so the restore's
`tar -xf -` finishes on its own: the exec protocol (v4) cannot close a command's stdin.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import yaml
from kubernetes import client as kclient
from kubernetes import config as kconfig
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream
from kubernetes.stream.ws_client import ERROR_CHANNEL

from components.confighub.client import ConfigHubClient
from operator_cli.output import CliError, Exit

DATA_DIR_ENV = "DATABASE_DATA_DIR"
DUMP = ["sh", "-c", f'cd "${DATA_DIR_ENV}" && tar -cf - .']
LOAD = ["sh", "-c", f'cd "${DATA_DIR_ENV}" && tar -xf -']
CHUNK = 1 << 16


@dataclass(frozen=True)
class Database:
    """Where an environment's database runs: from its unit's data in ConfigHub."""

    unit: str
    namespace: str
    deployment: str
    container: str
    selector: dict[str, str]
    data_dir: str

    def where(self) -> str:
        return f"{self.namespace}/{self.deployment} container {self.container}"


def find(client: ConfigHubClient, space_id: str) -> Database | None:
    """The workload of the space whose container sets DATABASE_DATA_DIR (None: no database)."""
    listed = client.request("GET", f"/space/{space_id}/unit") or []
    for item in sorted(listed, key=lambda i: str(i.get("Unit", i).get("Slug"))):
        unit = item.get("Unit", item)
        if not unit.get("TargetID"):
            continue  # not deployed anywhere (the base space's units)
        text = client.get_unit(space_id, str(unit["UnitID"])).text
        for doc in yaml.safe_load_all(text or ""):
            found = _in_doc(str(unit.get("Slug")), doc)
            if found is not None:
                return found
    return None


def _in_doc(unit: str, doc: Any) -> Database | None:
    if not isinstance(doc, dict) or doc.get("kind") not in ("Deployment", "StatefulSet"):
        return None
    spec = doc.get("spec") or {}
    pod = (spec.get("template") or {}).get("spec") or {}
    for c in pod.get("containers") or []:
        env = {e.get("name"): e.get("value") for e in c.get("env") or [] if isinstance(e, dict)}
        if DATA_DIR_ENV in env:
            meta = doc.get("metadata") or {}
            return Database(
                unit=unit,
                namespace=str(meta.get("namespace") or "default"),
                deployment=str(meta.get("name")),
                container=str(c.get("name")),
                selector=dict((spec.get("selector") or {}).get("matchLabels") or {}),
                data_dir=str(env[DATA_DIR_ENV]),
            )
    return None


def api(kubeconfig: str | None, context: str | None) -> kclient.CoreV1Api:
    try:
        return kclient.CoreV1Api(
            kconfig.new_client_from_config(config_file=kubeconfig, context=context)
        )
    except (kconfig.ConfigException, OSError) as exc:
        raise CliError(
            Exit.BAD_INPUT,
            f"kubeconfig {kubeconfig or '(default)'} / context {context or '(current)'}: {exc}",
            "pass --kubeconfig and --context of the cluster the environment runs on",
        ) from exc


def running_pod(core: kclient.CoreV1Api, db: Database, avoid: str | None = None) -> str:
    """The name of a Running, Ready pod of the database (not `avoid`)."""
    selector = ",".join(f"{k}={v}" for k, v in sorted(db.selector.items()))
    pods: list[Any] = core.list_namespaced_pod(db.namespace, label_selector=selector).items
    for pod in sorted(pods, key=lambda p: str(p.metadata.name)):
        ready = any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))
        gone = pod.metadata.deletion_timestamp is not None
        if pod.status.phase == "Running" and ready and not gone and pod.metadata.name != avoid:
            return str(pod.metadata.name)
    raise CliError(
        Exit.NOT_FOUND,
        f"no running, ready pod of the database {db.where()} (selector {selector})",
        "deploy the environment first (pulumi up), or check --kubeconfig/--context",
    )


def _exec(
    core: kclient.CoreV1Api,
    db: Database,
    pod: str,
    command: list[str],
    source: BinaryIO | None = None,
    sink: BinaryIO | None = None,
) -> int:
    """Run `command` in the pod's database container, streaming `source` to its stdin and its
    stdout to `sink` (chunk by chunk: a large database never sits in memory); the bytes
    written to `sink`. Fails naming the pod and the command's stderr when it fails."""
    try:
        ws = stream(
            core.connect_get_namespaced_pod_exec,
            pod,
            db.namespace,
            container=db.container,
            command=command,
            stdin=source is not None,
            stdout=True,
            stderr=True,
            tty=False,
            binary=True,
            _preload_content=False,
        )
    except ApiException as exc:
        raise CliError(
            Exit.FAILED,
            f"exec into {db.namespace}/{pod} container {db.container} refused: "
            f"{exc.status} {exc.reason}: {str(exc.body)[:300]}",
            "the cluster must allow pods/exec for you (RBAC: create pods/exec)",
        ) from exc
    err = bytearray()
    written = 0

    def drain() -> None:
        nonlocal err, written
        if ws.peek_stdout():
            chunk = ws.read_stdout()
            if sink is not None:
                sink.write(chunk)
            written += len(chunk)
        if ws.peek_stderr():
            err = (err + ws.read_stderr())[-4096:]

    try:
        if source is not None:
            for chunk in iter(lambda: source.read(CHUNK), b""):
                ws.write_stdin(chunk)
                ws.update(timeout=0)
                drain()
        while ws.is_open():
            ws.update(timeout=1)
            drain()
        drain()
        status = _status(ws.read_channel(ERROR_CHANNEL))
    finally:
        ws.close()
    if status:
        raise CliError(
            Exit.FAILED,
            f"{command[-1]} in {db.namespace}/{pod} container {db.container} failed: {status}"
            f"{': ' + bytes(err).decode('utf-8', 'replace')[-500:] if err else ''}",
            f"check that the database's {DATA_DIR_ENV} exists in the pod and has sh and tar",
        )
    return written


def _status(raw: Any) -> str:
    """The exec's outcome from its status channel: "" on success, else what went wrong (an
    exit code, or the API's message when the command could not run at all)."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
    if not text.strip():
        return ""
    try:
        found = yaml.safe_load(text)
    except yaml.YAMLError:
        return text[:300]
    if not isinstance(found, dict) or found.get("status") == "Success":
        return ""
    causes = (found.get("details") or {}).get("causes") or []
    if found.get("reason") == "NonZeroExitCode" and causes:
        return f"exit code {causes[0].get('message')}"
    return str(found.get("message") or text)[:300]


def dump(core: kclient.CoreV1Api, db: Database, dest: Path) -> tuple[str, int]:
    """Write the data directory as a tar archive to `dest`, from the running pod:
    (the pod, the archive's size)."""
    pod = running_pod(core, db)
    with dest.open("wb") as fh:
        size = _exec(core, db, pod, DUMP, sink=fh)
    if size < 1024 or size % 512:
        raise CliError(
            Exit.FAILED,
            f"the database's data directory from {db.namespace}/{pod} is not a tar archive "
            f"({size} bytes)",
            f"check the pod's {DATA_DIR_ENV} ({db.data_dir})",
        )
    return pod, size


def load(core: kclient.CoreV1Api, db: Database, archive: Path, timeout: float = 180.0) -> str:
    """Unpack the `archive` file into the data directory, then restart the pod so H2 opens the
    restored files; returns the new pod's name once it is running and ready."""
    pod = running_pod(core, db)
    with archive.open("rb") as fh:
        _exec(core, db, pod, LOAD, source=fh)
    core.delete_namespaced_pod(pod, db.namespace)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return running_pod(core, db, avoid=pod)
        except CliError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
