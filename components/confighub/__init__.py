"""ConfigHub as Pulumi resources: a typed API client and dynamic providers.

Resources (type `pulumi-python:dynamic/confighub:<Kind>`): Space, Unit, UpstreamRevision, Filter,
Link, BridgeWorker, Target, Tag, ChangeSet; plus the UnitSet component (labels + Filter, since
Sets are retired from the API). Connection: stack config `confighub:url` / `confighub:token`
(secret), else env `CONFIGHUB_URL` / `CONFIGHUB_TOKEN`. See docs/contracts.md.
"""

from .bridge_worker import BridgeWorker, BridgeWorkerArgs
from .change_set import ChangeSet, ChangeSetArgs
from .filter import Filter, FilterArgs
from .link import Link, LinkArgs
from .space import Space, SpaceArgs
from .tag import Tag, TagArgs
from .target import Target, TargetArgs
from .unit import Unit, UnitArgs
from .unit_set import UnitSet, UnitSetArgs
from .upstream_revision import UpstreamRevision, UpstreamRevisionArgs

__all__ = [
    "BridgeWorker",
    "BridgeWorkerArgs",
    "ChangeSet",
    "ChangeSetArgs",
    "Filter",
    "FilterArgs",
    "Link",
    "LinkArgs",
    "Space",
    "SpaceArgs",
    "Tag",
    "TagArgs",
    "Target",
    "TargetArgs",
    "Unit",
    "UnitArgs",
    "UnitSet",
    "UnitSetArgs",
    "UpstreamRevision",
    "UpstreamRevisionArgs",
]
