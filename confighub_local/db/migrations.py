"""Versioned schema migrations: each entry runs once, recorded in `schema_migrations`.

Entities are JSON documents (the API's PascalCase shape) in one table; the columns beside the
document exist only for keys, uniqueness and indexes that `where` queries and lookups need.
"""

import sqlite3
from datetime import UTC, datetime

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "entities, meta",
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE entities (
            cursor INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            id TEXT NOT NULL UNIQUE,
            space_id TEXT,
            parent_id TEXT,
            slug TEXT,
            doc TEXT NOT NULL
        );
        CREATE UNIQUE INDEX entities_slug ON entities(kind, space_id, slug) WHERE slug IS NOT NULL;
        CREATE INDEX entities_kind_space ON entities(kind, space_id);
        CREATE INDEX entities_parent ON entities(kind, parent_id);
        """,
    ),
]


def migrate(conn: sqlite3.Connection) -> int:
    """Apply pending migrations in order, each in its own transaction; return the schema version."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    version = max(done, default=0)
    for number, name, sql in MIGRATIONS:
        if number in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in sql.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                (number, name, datetime.now(UTC).isoformat()),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        version = number
    return version
