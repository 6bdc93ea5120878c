"""A local HTTP server speaking the slice of GitHub's REST API the poster uses, recording every
call (method, path, query, body, auth) so tests can assert exactly what was sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel


class Call(BaseModel):
    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any] | None
    authorization: str | None


class FakeGitHub:
    """State: comments per (repo, issue). `fail_next` queues status codes to answer first."""

    def __init__(self) -> None:
        self.comments: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.calls: list[Call] = []
        self.fail_next: list[int] = []
        self._next_id = 1000
        self.url = ""

    def add(self, repo: str, issue: int, body: str) -> dict[str, Any]:
        self._next_id += 1
        comment = {
            "id": self._next_id,
            "body": body,
            "html_url": f"https://github.test/{repo}/pull/{issue}#issuecomment-{self._next_id}",
        }
        self.comments.setdefault((repo, issue), []).append(comment)
        return comment

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            return None

        def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _handle(self, method: str) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            fake.calls.append(
                Call(
                    method=method,
                    path=url.path,
                    query=query,
                    body=body,
                    authorization=self.headers.get("Authorization"),
                )
            )
            if fake.fail_next:
                self._reply(fake.fail_next.pop(0), {"message": "injected failure"})
                return
            parts = url.path.strip("/").split("/")
            # /repos/{o}/{r}/issues/{n}/comments  or  /repos/{o}/{r}/issues/comments/{id}
            if len(parts) != 6 or parts[0] != "repos" or parts[3] != "issues":
                self._reply(404, {"message": "Not Found"})
                return
            repo = f"{parts[1]}/{parts[2]}"
            if parts[4] == "comments" and method == "PATCH":
                for comments in fake.comments.values():
                    for c in comments:
                        if c["id"] == int(parts[5]):
                            c["body"] = (body or {})["body"]
                            self._reply(200, c)
                            return
                self._reply(404, {"message": "Not Found"})
            elif parts[5] == "comments" and method == "GET":
                items = fake.comments.get((repo, int(parts[4])), [])
                per_page = int(query.get("per_page", 30))
                page = int(query.get("page", 1))
                chunk = items[(page - 1) * per_page : page * per_page]
                headers = {}
                if page * per_page < len(items):
                    nxt = f"{fake.url}{url.path}?per_page={per_page}&page={page + 1}"
                    headers["Link"] = f'<{nxt}>; rel="next"'
                self._reply(200, chunk, headers)
            elif parts[5] == "comments" and method == "POST":
                self._reply(201, fake.add(repo, int(parts[4]), (body or {})["body"]))
            else:
                self._reply(405, {"message": "Method Not Allowed"})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

    return Handler


@contextmanager
def serve() -> Iterator[FakeGitHub]:
    """Run a FakeGitHub on a free loopback port for the duration of the block."""
    fake = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
