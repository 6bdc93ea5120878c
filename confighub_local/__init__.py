"""A local ConfigHub-compatible server: the embedded default and the test bed.

Speaks the published REST API (shared/confighub/openapi.json) over SQLite persistence.
"""

__version__ = "0.1.0"
