"""The official MCP conformance suite's client scenarios against the load client.

``conformance client --requirements <revision> --command "<python> -m
harness.client.conformance"``: the suite starts a test server per scenario and runs McpClient
(the code Locust runs) against it through the adapter, for both revisions the client speaks.
Every non-auth scenario must pass; the OAuth ones are listed, with the reason, in
tests/integration/client_conformance_expected_failures.yml. Skipped, saying so, when the
suite or a Node >= 22 is missing (scripts/install_conformance.sh).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from harness.client.conformance import SCENARIOS
from tests.support.conformance import ROOT, SUITE_ENTRY, run_suite, suite_node_or_skip, summary

EXPECTED_FAILURES = ROOT / "tests/integration/client_conformance_expected_failures.yml"
SUITE_TIMEOUT = 300.0

pytestmark = pytest.mark.timeout(SUITE_TIMEOUT + 60)


@pytest.mark.parametrize("revision", ["2025-11-25", "2026-07-28"])
def test_client_passes_the_suites_client_scenarios(revision: str, tmp_path: Path) -> None:
    node = suite_node_or_skip()
    results = tmp_path / "conformance-results"
    command = [
        node,
        str(SUITE_ENTRY),
        "client",
        "--command", f"{sys.executable} -m harness.client.conformance",
        "--requirements", revision,
        "--expected-failures", str(EXPECTED_FAILURES),
        "--output-dir", str(results),
    ]  # fmt: skip
    returncode, output = run_suite(command, SUITE_TIMEOUT)
    assert "=== SUITE SUMMARY ===" in output, f"the suite did not run:\n{output[-6000:]}"
    assert returncode == 0, (
        f"client conformance failed (exit {returncode}; per-check results in {results}):\n"
        f"{summary(output)}"
    )
    # Every non-auth scenario ran, and passed (the baseline lists only auth ones).
    ran = {name: mark for mark, name in re.findall(r"^([✓✗]) (\S+): ", output, re.MULTILINE)}
    non_auth = {name: mark for name, mark in ran.items() if not name.startswith("auth/")}
    assert non_auth, f"no non-auth scenario ran:\n{summary(output)}"
    assert set(non_auth) <= set(SCENARIOS), f"a scenario the adapter does not know: {non_auth}"
    assert all(mark == "✓" for mark in non_auth.values()), summary(output)
