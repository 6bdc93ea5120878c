"""Backups of a project's ConfigHub spaces and their restore (format, snapshot, restore)."""
