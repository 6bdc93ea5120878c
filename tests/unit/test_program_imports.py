"""Loading the stack program must not load the HTTP client or pulumi-kubernetes' generated
modules: every `up` and preview pays their import time (issue #11). A fresh interpreter, since
other tests import both."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.server import ROOT


def test_the_program_loads_without_httpx_or_generated_kubernetes_modules() -> None:
    probe = (
        "import json, sys; import components.stack.program; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('httpx', 'tenacity') or m.startswith(('pulumi_kubernetes.core.', "
        "'pulumi_kubernetes.rbac.', 'pulumi_kubernetes.networking.')))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == []
