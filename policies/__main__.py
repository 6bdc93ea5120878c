"""Policy pack entry point (run by the Pulumi engine via `--policy-pack policies`).

The engine runs this file from inside the pack directory; the parent is put on sys.path so the
rule modules import as a package whichever way the file is started.
"""

import importlib
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

importlib.import_module(f"{_HERE.name}.pack").serve()
