"""What tests/infra's modules share under `make test`'s parallel workers: the two modules
that build every stage with `chalice package` (test_template.py, test_access_logs.py) run
in one worker, one build at a time. chalice writes its cached deployment package through
one fixed temporary name in .chalice/deployments/, which two builds at once would both
write."""
from __future__ import annotations

from pathlib import Path

import pytest

PACKAGING = {"test_template.py", "test_access_logs.py"}
HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before tests/conftest.py gives each module its own group
def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.parent == HERE and item.path.name in PACKAGING:
            item.add_marker(pytest.mark.xdist_group("chalice-package"))
