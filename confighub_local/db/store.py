"""Document store over SQLite: one write transaction per API write, WAL, fsync on commit.

Every request runs under one lock on one connection: SQLite serialises writers anyway, and a
single connection keeps `:memory:` databases (tests) and files (default) on the same code path.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from confighub_local import pgpattern
from confighub_local.db.migrations import migrate
from confighub_local.validation import storable_json

Doc = dict[str, Any]


def with_cursor(text: str, cursor: int) -> str:
    """A stored document's JSON text with its CursorID, without parsing it."""
    return f'{text[:-1]},"CursorID":{int(cursor)}}}' if text != "{}" else f'{{"CursorID":{cursor}}}'


def now() -> str:
    """Timestamps as the API serialises them (RFC 3339, UTC, microseconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id() -> str:
    return str(uuid.uuid4())


def _bindable(value: Any) -> Any:
    """A lookup value SQLite can bind. An integer beyond 64 bits (a revision number from a
    query string) becomes a float, which compares as a number and matches no stored integer;
    a string with an unpaired surrogate (none is ever stored) gets U+FFFD in its place.
    Either would otherwise raise inside the driver (a 500)."""
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return float("inf") if value > 0 else float("-inf")
    if isinstance(value, str) and not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return value


class Store:
    """The server's only access to SQLite."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        pgpattern.install(self._conn)  # bounded (RE2) regex, LIKE, ILIKE, contains
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA case_sensitive_like=ON")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self.schema_version = migrate(self._conn)
        self._depth = 0

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def tx(self) -> Iterator[Store]:
        """A write transaction; nested use joins the outer one. Rolls back on any error."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0

    @contextmanager
    def read(self) -> Iterator[Store]:
        with self._lock:
            yield self

    def sql(self, query: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        """Raw SQL (used by the benchmark's baseline and by joins the helpers do not cover)."""
        with self._lock:
            return list(self._conn.execute(query, [_bindable(p) for p in params]))

    # -- meta ---------------------------------------------------------------------------------

    def meta_get(self, key: str) -> str | None:
        rows = self.sql("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def meta_set(self, key: str, value: str) -> None:
        with self.tx():
            self._conn.execute(
                "INSERT INTO meta VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- documents ----------------------------------------------------------------------------

    @staticmethod
    def _load(row: tuple[Any, ...]) -> Doc:
        doc: Doc = json.loads(row[1])
        doc["CursorID"] = row[0]
        return doc

    def get(self, kind: str, entity_id: str) -> Doc | None:
        rows = self.sql(
            "SELECT cursor, doc FROM entities WHERE kind = ? AND id = ?", (kind, entity_id)
        )
        return self._load(rows[0]) if rows else None

    def get_by_slug(self, kind: str, space_id: str | None, slug: str) -> Doc | None:
        rows = self.sql(
            "SELECT cursor, doc FROM entities WHERE kind = ? AND space_id IS ? AND slug = ?",
            (kind, space_id, slug),
        )
        return self._load(rows[0]) if rows else None

    def insert(
        self,
        kind: str,
        entity_id: str,
        doc: Doc,
        *,
        space_id: str | None = None,
        parent_id: str | None = None,
        slug: str | None = None,
    ) -> Doc:
        with self.tx():
            doc.pop("CursorID", None)
            cur = self._conn.execute(
                "INSERT INTO entities (kind, id, space_id, parent_id, slug, doc) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (kind, entity_id, space_id, parent_id, slug, storable_json(kind, doc)),
            )
            doc["CursorID"] = cur.lastrowid
        return doc

    def replace(self, kind: str, entity_id: str, doc: Doc, *, slug: str | None = None) -> Doc:
        with self.tx():
            cursor = doc.pop("CursorID", None)
            self._conn.execute(
                "UPDATE entities SET doc = ?, slug = COALESCE(?, slug) WHERE kind = ? AND id = ?",
                (storable_json(kind, doc), slug, kind, entity_id),
            )
            if cursor is not None:
                doc["CursorID"] = cursor
        return doc

    def delete(self, kind: str, entity_id: str) -> None:
        with self.tx():
            self._conn.execute("DELETE FROM entities WHERE kind = ? AND id = ?", (kind, entity_id))

    def delete_children(self, parent_id: str) -> None:
        with self.tx():
            self._conn.execute("DELETE FROM entities WHERE parent_id = ?", (parent_id,))

    def select(
        self,
        kind: str,
        *,
        where_sql: str = "",
        params: list[Any] | None = None,
        joins: str = "",
        space_id: str | None = None,
        parent_id: str | None = None,
        order: str = "e.cursor",
        limit: int | None = None,
    ) -> list[Doc]:
        """Documents of one kind matching an already-translated `where` fragment over alias `e`."""
        rows = self.select_rows(
            kind,
            where_sql=where_sql,
            params=params,
            joins=joins,
            space_id=space_id,
            parent_id=parent_id,
            order=order,
            limit=limit,
        )
        return [self._load(row) for row in rows]

    def select_rows(
        self,
        kind: str,
        *,
        where_sql: str = "",
        params: list[Any] | None = None,
        joins: str = "",
        space_id: str | None = None,
        parent_id: str | None = None,
        order: str = "e.cursor",
        limit: int | None = None,
    ) -> list[tuple[Any, ...]]:
        """(cursor, JSON text, space_id) rows: list endpoints splice the text without parsing."""
        clauses = ["e.kind = ?"]
        args: list[Any] = [kind]
        if space_id is not None:
            clauses.append("e.space_id = ?")
            args.append(space_id)
        if parent_id is not None:
            clauses.append("e.parent_id = ?")
            args.append(parent_id)
        query = (
            f"SELECT e.cursor, e.doc, e.space_id FROM entities e {joins} "
            f"WHERE {' AND '.join(clauses)}"
        )
        if where_sql:
            query += f" AND ({where_sql})"
            args.extend(params or [])
        query += f" ORDER BY {order}"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        return self.sql(query, args)

    def count(self, kind: str, *, space_id: str | None = None) -> int:
        if space_id is None:
            return int(self.sql("SELECT count(*) FROM entities WHERE kind = ?", (kind,))[0][0])
        rows = self.sql(
            "SELECT count(*) FROM entities WHERE kind = ? AND space_id = ?", (kind, space_id)
        )
        return int(rows[0][0])
