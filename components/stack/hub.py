"""The one place this program imports the ConfigHub resources (components/confighub, #4).

Keeping the import here means an interface change there is fixed in one file.
"""

from __future__ import annotations

from components.confighub import (
    BridgeWorker,
    Filter,
    Link,
    Space,
    Target,
    Unit,
    UnitSet,
)

__all__ = [
    "BridgeWorker",
    "Filter",
    "Link",
    "Space",
    "Target",
    "Unit",
    "UnitSet",
]
