"""Fixtures of the end-to-end tests: each run's own process-registry directory, cleaned after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import mcp_scale


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "state"
    yield folder
    # Whatever a failed test left behind is stopped here, by recorded PID.
    mcp_scale("cleanup", "--all", state_dir=folder, timeout=60)
