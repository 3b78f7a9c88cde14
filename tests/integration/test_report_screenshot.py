"""report.html as a browser shows it: headless Chromium takes a screenshot of the page, which
must show the charts (many colours), not a blank or broken page."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.checkers.result import CheckResult
from harness.checkers.tables import RecoveryRow, SessionRow, SurvivalTable
from harness.gates import evaluate, parse_thresholds
from harness.history import Record
from harness.report import RunData, render_report

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
WIDTH, HEIGHT = 1280, 2400
T0 = 1_764_000_000.0


def synthetic_history(users: int = 12, seconds: float = 30.0, seed: int = 7) -> list[Record]:
    """Users on three nodes notify themselves every ~0.5 s; n1 is killed at 8 s and restarted
    at 14 s, and its users' calls fail in between."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = [
        {"time": T0, "type": "ok", "process": "harness", "f": "run-start", "value": {}}
    ]

    def add(t: float, type_: str, process: str, f: str, value: Any = None, **extra: Any) -> None:
        records.append({"time": T0 + t, "type": type_, "process": process, "f": f, "value": value})
        records[-1].update(extra)

    for name, target, t in (("kill-node", "n1", 8.0), ("restart-node", "n1", 14.0)):
        add(t, "invoke", "nemesis", name, target)
        add(t + 0.01, "ok", "nemesis", name, target, detail="pid 1")
    for u in range(users):
        process, session, node = f"w0-u{u}", f"s{u:04d}", f"n{u % 3 + 1}"
        add(0.1, "invoke", process, "initialize", {})
        add(0.15, "ok", process, "initialize", {"session": session}, session=session, node=node)
        t, n = 0.3 + rng.random() * 0.3, 0
        while t < seconds - 1:
            n += 1
            nonce, latency = f"{process}-{n}", rng.lognormvariate(-3.5, 0.5)
            add(t, "invoke", process, "call:notify", {"count": 3, "nonce": nonce}, session=session)
            if node == "n1" and 8.0 < t < 14.5:
                add(
                    t + 0.001,
                    "fail",
                    process,
                    "call:notify",
                    None,
                    session=session,
                    error="refused",
                )
            else:
                for seq in range(1, 4):
                    if rng.random() > 0.005:
                        data = {"nonce": nonce, "seq": seq, "sent_at": T0 + t + 0.001 * seq}
                        message = {"method": "notifications/message", "params": {"data": data}}
                        add(t + 0.002 * seq, "ok", f"{process}/stream", "message", message)
                add(t + latency, "ok", process, "call:notify", {"emitted": 3}, latency=latency)
            t += 0.3 + rng.random() * 0.4
    add(seconds, "ok", "harness", "run-end", {})
    records.sort(key=lambda r: r["time"])
    return records  # type: ignore[return-value]


def results(history: list[Record]) -> list[CheckResult]:
    sessions = [
        SessionRow(r["session"], r["time"], T0 + 29, False, "survived", r["node"])
        for r in history
        if r["f"] == "initialize" and r["type"] == "ok"
    ]
    recovery = [
        RecoveryRow("kill-node:n1", T0 + 8, f"w0-u{i}", None, T0 + 8.1, 6.2 + 0.05 * i)
        for i in range(4)
    ]
    return [
        CheckResult(
            "survival",
            True,
            "12 of 12 sessions survived",
            {"sessions": len(sessions), "lost": 0},
            table=SurvivalTable(sessions, recovery),
        ),
        CheckResult(
            "delivery",
            False,
            "5 messages lost",
            {"emitted": 300, "due": 300, "delivered": 295, "lost": 5, "duplicated": 0},
            [{"nonce": "w0-u1-3"}],
        ),
        CheckResult("broadcast", "unknown", "no broadcast in this scenario"),
    ]


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"no Chromium at {CHROMIUM}")
@pytest.mark.timeout(120)
def test_report_html_renders_in_a_browser(tmp_path: Path) -> None:
    PIL = pytest.importorskip("PIL.Image", reason="Pillow reads the screenshot")
    history = synthetic_history()
    gates = evaluate(
        parse_thresholds(["latency.call_notify.p99 < 100ms"]), {"latency.call_notify.p99": 60.0}
    )
    run = RunData("redis", tmp_path, history, results(history), gates, verdict="fail")
    files = render_report(tmp_path / "report", [run])
    screenshot = tmp_path / "page.png"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={screenshot}",
        f"--window-size={WIDTH},{HEIGHT}",
        files["report.html"].resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90)
    assert screenshot.exists(), done.stderr[-2000:]
    image = PIL.open(screenshot).convert("RGB")
    assert image.size == (WIDTH, HEIGHT)
    # The header's verdict band is red (FAIL) ...
    assert _is_reddish(image.getpixel((WIDTH // 2, 40)))
    # ... and the charts below the tables draw in many colours, not on a blank page.
    charts = image.crop((0, HEIGHT // 3, WIDTH, HEIGHT))
    colors = charts.getcolors(maxcolors=1 << 20) or []
    assert len(colors) > 300
    white = sum(count for count, color in colors if color == (255, 255, 255))
    assert white < 0.97 * charts.width * charts.height


def _is_reddish(pixel: Any) -> bool:
    r, g, b = pixel[:3]
    return bool(r > 140 and g < 90 and b < 90)
