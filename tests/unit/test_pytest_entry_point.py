"""The plugin's entry point is named after its module, so that ``-p harness.pytest_plugin``
(a checkout) and the installed entry point load it once."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_pytest11_entry_point_is_named_after_its_module() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    points = project["entry-points"]["pytest11"]
    assert points == {"harness.pytest_plugin": "harness.pytest_plugin"}
    plugin = importlib.import_module("harness.pytest_plugin")
    assert hasattr(plugin, "mcp_cluster") and hasattr(plugin, "mcp_run")
