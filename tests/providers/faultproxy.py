"""A real HTTP reverse proxy that injects faults between a client and the local ConfigHub server.

With probability `rate` a request meets one of:
- "500": answered 500 by the proxy, never forwarded;
- "429": answered 429 with `Retry-After: 1`, never forwarded;
- "lost": forwarded (the server acts!) but the client gets 502 - the case that duplicates naive
  creates;
- "slow": forwarded, then the answer is held longer than the client's timeout.
Counts of each fault are kept so tests can assert faults really happened.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

FAULTS = ("500", "429", "lost", "slow")


class FaultProxy:
    def __init__(self, upstream: str, rate: float, slow_seconds: float, seed: int = 7) -> None:
        self.upstream = upstream.rstrip("/")
        self.rate = rate
        self.slow_seconds = slow_seconds
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.enabled = True
        self._http = httpx.Client(base_url=self.upstream, timeout=60.0)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy.pick()
                if fault in ("500", "429"):
                    self._reply(
                        int(fault),
                        b'{"Code":"injected","Message":"injected fault"}',
                        {"Retry-After": "1"} if fault == "429" else {},
                    )
                    return
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "content-length", "connection")
                }
                resp = proxy._http.request(self.command, self.path, content=body, headers=headers)
                if fault == "lost":
                    self._reply(502, b'{"Code":"injected","Message":"answer lost"}', {})
                    return
                if fault == "slow":
                    time.sleep(proxy.slow_seconds)
                ctype = resp.headers.get("content-type", "application/json")
                self._reply(resp.status_code, resp.content, {"Content-Type": ctype})

            def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    if "Content-Type" not in headers:
                        self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def pick(self) -> str | None:
        with self.lock:
            if not self.enabled or self.random.random() >= self.rate:
                self.counts["ok"] += 1
                return None
            fault = self.random.choice(FAULTS)
            self.counts[fault] += 1
            return fault

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._http.close()
