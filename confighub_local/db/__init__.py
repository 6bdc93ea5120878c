"""SQLite persistence for the local ConfigHub server."""

from confighub_local.db.store import Store

__all__ = ["Store"]
