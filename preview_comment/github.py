"""Post or update the one preview comment per project+stack on a pull request.

The comment is found by its hidden marker across every page of the PR's comments (GitHub lists
30 per page by default; we ask for 100 and follow `Link: rel="next"`), then edited in place, so
re-runs and matrix jobs for other stacks never duplicate or overwrite each other.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import BaseModel
from tenacity import (
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

API_VERSION = "2022-11-28"


class GitHubError(RuntimeError):
    """A GitHub API call failed; the message names the call and GitHub's answer."""


class Comment(BaseModel):
    id: int
    body: str = ""
    html_url: str = ""


class Upsert(BaseModel):
    action: Literal["created", "updated", "unchanged"]
    comment: Comment
    duplicates: int = 0


def client(
    token: str, api_url: str = "https://api.github.com", timeout: float = 30
) -> httpx.Client:
    """An httpx client for the GitHub REST API (token only in the Authorization header)."""
    if not token:
        raise GitHubError("no GitHub token: set GITHUB_TOKEN (the workflow's token suffices)")
    return httpx.Client(
        base_url=api_url.rstrip("/"),
        timeout=timeout,
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "traderx-preview-comment",
        },
    )


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.TransportError):
        return True
    return isinstance(exc, _Retry)


class _Retry(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class Comments:
    """Comment operations on one repository's pull requests (issues API)."""

    def __init__(self, http: httpx.Client, repo: str) -> None:
        if repo.count("/") != 1 or not all(repo.split("/")):
            raise GitHubError(f"repository must be 'owner/name', got {repo!r}")
        self._http = http
        self._repo = repo

    @retry(
        retry=retry_if_exception(_retryable),
        stop=stop_after_attempt(4),
        wait=wait_exponential(multiplier=0.5, max=8),
        reraise=True,
    )
    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = self._http.request(method, url, **kwargs)
        if response.status_code in (429, 500, 502, 503, 504):
            raise _Retry(response)
        return response

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._send(method, url, **kwargs)
        except _Retry as exc:
            response = exc.response
        except httpx.TransportError as exc:
            raise GitHubError(f"{method} {url}: {exc}") from exc
        if response.is_error:
            try:
                detail = response.json().get("message", response.text)
            except ValueError:
                detail = response.text
            raise GitHubError(f"{method} {url}: HTTP {response.status_code}: {detail[:300]}")
        return response

    def list(self, pr: int) -> list[Comment]:
        """Every comment on the PR, all pages."""
        url: str | None = f"/repos/{self._repo}/issues/{pr}/comments"
        params: dict[str, Any] | None = {"per_page": 100}
        found: list[Comment] = []
        while url:
            response = self._call("GET", url, params=params)
            found.extend(Comment.model_validate(c) for c in response.json())
            url = response.links.get("next", {}).get("url")
            params = None  # the next link carries its own query
        return found

    def upsert(self, pr: int, marker: str, body: str) -> Upsert:
        """Update the comment carrying `marker`, or create it; `body` must contain the marker."""
        if marker not in body:
            raise GitHubError("comment body lacks its marker; refusing to post an orphan comment")
        mine = [c for c in self.list(pr) if marker in c.body]
        if mine:
            existing = mine[0]
            if existing.body == body:
                return Upsert(action="unchanged", comment=existing, duplicates=len(mine) - 1)
            response = self._call(
                "PATCH", f"/repos/{self._repo}/issues/comments/{existing.id}", json={"body": body}
            )
            return Upsert(
                action="updated",
                comment=Comment.model_validate(response.json()),
                duplicates=len(mine) - 1,
            )
        response = self._call(
            "POST", f"/repos/{self._repo}/issues/{pr}/comments", json={"body": body}
        )
        return Upsert(action="created", comment=Comment.model_validate(response.json()))
