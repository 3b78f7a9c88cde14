"""Wording and number formats shared by report.md and report.html (both read summary.json)."""

from __future__ import annotations

from typing import Any

ICONS = {"pass": "✅", "fail": "❌", "unknown": "❔", "expected": "⚠️"}
NONE = "-"  # a figure that is not there
WORDS = {"pass": "pass", "fail": "FAIL", "unknown": "unknown", "expected": "expected"}


def status_text(status: str, icons: bool = True) -> str:
    """The status as a word, after an emoji when ``icons`` (the HTML page goes without: a
    browser may lack an emoji font)."""
    icon = ICONS.get(status, "") if icons else ""
    return f"{icon} {WORDS.get(status, status)}".strip()


def threshold_status(passed: bool) -> str:
    return "pass" if passed else "fail"


def number(value: Any, digits: int = 3) -> str:
    if value is None:
        return NONE
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{digits}g}"
    return str(value)


def percent(fraction: float | None) -> str:
    return NONE if fraction is None else f"{fraction * 100:.2f}%"


def rows_by_name(runs: list[dict[str, Any]], key: str, name: str) -> list[str]:
    """The union of the names of ``runs[*][key][*][name]``, in first-seen order."""
    names: dict[str, None] = {}
    for run in runs:
        for item in run.get(key, []):
            names.setdefault(str(item[name]), None)
    return list(names)


def find(run: dict[str, Any], key: str, name: str, value: str) -> dict[str, Any] | None:
    return next((item for item in run.get(key, []) if str(item[name]) == value), None)


def checker_cell(checker: dict[str, Any] | None, icons: bool = True) -> str:
    if checker is None:
        return NONE
    return f"{status_text(checker['status'], icons)}: {checker['summary']}"


def threshold_cell(gate: dict[str, Any] | None, icons: bool = True) -> str:
    if gate is None:
        return NONE
    status = status_text(threshold_status(gate["passed"]), icons)
    return f"{status} (measured {number(gate['value'])})"


def key_numbers(run: dict[str, Any], icons: bool = True) -> list[tuple[str, str]]:
    """The few figures that say what happened in a run, as (name, text) rows."""
    profile = run.get("profile", {})
    ops, sessions, messages = run["operations"], run["sessions"], run["messages"]
    faults = run["faults"]
    applied = sum(1 for f in faults if f["outcome"] == "ok")
    delay = messages.get("delay_ms", {})
    setup = ", ".join(
        f"{k} {profile[k]}"
        for k in ("scenario", "protocol", "backend", "store", "routing", "nodes", "users")
        if profile.get(k) is not None
    )
    history = f"{run['records']:,} records"
    if not run["complete"]:
        history += " (no run-end record: the run was cut short)"
    return [
        ("verdict", status_text(run["verdict"], icons)),
        ("setup", setup or NONE),
        ("duration", f"{run['duration_s']:.1f} s"),
        ("history", history),
        ("operations", f"{ops['total']:,} ({number(ops['per_second'])}/s)"),
        (
            "errors",
            f"{percent(ops['error_rate'])} ({ops['fail']:,} fail, {ops['info']:,} unknown)",
        ),
        ("sessions", _sessions_text(sessions)),
        ("messages", _messages_text(messages)),
        ("message delay", f"p50 {number(delay.get('p50'))} ms, p99 {number(delay.get('p99'))} ms"),
        ("faults", f"{applied} applied, {len(faults) - applied} not"),
        ("not tested", ", ".join(run.get("not_tested") or []) or NONE),
    ]


def _sessions_text(sessions: dict[str, Any]) -> str:
    if sessions["total"] is None:
        return "not checked (no survival checker)"
    text = f"{number(sessions['total'])} created, {number(sessions['lost'])} lost"
    expected = sessions.get("lost_expected") or 0
    return text + (f" ({expected:,} expected for this store)" if expected else "")


def _messages_text(messages: dict[str, Any]) -> str:
    if messages["sent"] is None:
        return "not checked (no delivery checker)"
    unlistened = messages.get("unlistened") or 0
    early = f" ({unlistened:,} more sent before the stream opened)" if unlistened else ""
    return (
        f"{number(messages['sent'])} sent, {number(messages['delivered'])} delivered, "
        f"{number(messages['lost'])} lost{early}, {number(messages['duplicated'])} duplicated"
    )


def fault_rows(run: dict[str, Any]) -> list[list[str]]:
    rows = []
    for fault in run["faults"]:
        healed = NONE if fault["end"] is None else f"{fault['end']:.1f} s ({fault['healed_by']})"
        rows.append(
            [
                fault["name"],
                fault["target"] or "",
                f"{fault['start']:.1f} s",
                healed,
                fault["outcome"],
                fault["detail"],
            ]
        )
    return rows


FAULT_HEADER = ["fault", "target", "at", "healed", "outcome", "detail"]
LATENCY_HEADER = ["operation", "count", "fail", "unknown", "p50", "p90", "p99", "max"]


def latency_rows(run: dict[str, Any]) -> list[list[str]]:
    return [
        [
            op,
            f"{row['count']:,}",
            f"{row['fail']:,}",
            f"{row['info']:,}",
            *(number(row[k]) for k in ("p50", "p90", "p99", "max")),
        ]
        for op, row in run["latency_ms"].items()
    ]


def metric_rows(runs: list[dict[str, Any]]) -> list[list[str]]:
    """The gates' metrics, one row per name, one column per run."""
    names: dict[str, None] = {}
    for run in runs:
        names.update(dict.fromkeys(run.get("metrics", {})))
    return [[name, *(number(run.get("metrics", {}).get(name)) for run in runs)] for name in names]


# ---- longevity ----------------------------------------------------------------------------

RESOURCE_HEADER = [
    "target",
    "samples",
    "processes",
    "RSS MiB (first / last / peak)",
    "CPU % (avg / peak)",
    "fds (last / peak)",
    "threads (peak)",
    "sessions / streams (peak)",
    "Redis MiB (first / last / peak)",
    "Redis keys / clients / channels (last)",
]
SLOPE_HEADER = [
    "target",
    "metric",
    "samples",
    "first → last",
    "slope /h",
    "95% CI /h",
    "2nd half: slope (low) /h",
    "threshold /h",
    "to memory limit",
    "verdict",
]
DRIFT_HEADER = [
    "operation",
    "n (first / last)",
    "p50 ms (first → last)",
    "p99 ms (first → last)",
    "p99 growth",
    "verdict",
]
SLOPE_WORDS = {
    "leak": "LEAK",
    "levels off": "levels off",
    "growing": "grows, below threshold",
    "flat": "flat",
}


def _slash(*values: Any, digits: int = 3) -> str:
    if all(v is None for v in values):
        return NONE
    return " / ".join(number(v, digits) for v in values)


def resource_rows(run: dict[str, Any]) -> list[list[str]]:
    rows = []
    for r in run.get("resources", []):
        kind = r["kind"]
        name = r["target"] if kind in ("node", r["target"]) else f"{r['target']} ({kind})"
        rows.append(
            [
                name,
                f"{r['samples']:,}",
                str(r["processes"]),
                _slash(r.get("rss_mib_first"), r.get("rss_mib_last"), r.get("rss_mib_peak")),
                _slash(r.get("cpu_pct_avg"), r.get("cpu_pct_peak")),
                _slash(r.get("fds_last"), r.get("fds_peak")),
                _slash(r.get("threads_peak")),
                _slash(r.get("sessions_peak"), r.get("open_streams_peak")),
                _slash(
                    r.get("used_memory_mib_first"),
                    r.get("used_memory_mib_last"),
                    r.get("used_memory_mib_peak"),
                ),
                _slash(r.get("keys_last"), r.get("clients_last"), r.get("pubsub_channels_last")),
            ]
        )
    return rows


def hours(value: float | None) -> str:
    if value is None:
        return "never (not growing)"
    if value >= 24 * 365:
        return "> 1 year"
    if value >= 48:
        return f"{value / 24:.1f} days"
    if value >= 1:
        return f"{value:.1f} h"
    return f"{value * 60:.0f} min"


def slope_rows(run: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(status, cells) per series of the leak check; status pass / fail / unknown for
    colouring (a leak fails, growth that levels off is unknown-grey, the rest pass)."""
    leak = run.get("longevity", {}).get("leak")
    if not leak:
        return []
    rows = []
    for r in leak["rows"]:
        unit = r["unit"]
        target = r["target"] if r["pid"] is None else f"{r['target']} (pid {r['pid']})"
        limit = NONE
        if r["metric"] in ("rss", "used_memory"):
            limit = hours(r.get("hours_to_limit"))
            if r.get("hours_to_limit_worst") is not None:
                limit += f" (worst {hours(r['hours_to_limit_worst'])})"
        status = r["status"]
        rows.append(
            (
                "fail" if status == "leak" else "expected" if status == "levels off" else "pass",
                [
                    target,
                    f"{r['label']} ({unit})",
                    f"{r['samples']:,}",
                    f"{number(r['first'])} → {number(r['last'])}",
                    number(r["slope_per_h"]),
                    f"{number(r['low_per_h'])} … {number(r['high_per_h'])}",
                    f"{number(r['late_slope_per_h'])} ({number(r['late_low_per_h'])})",
                    number(r["threshold_per_h"]),
                    limit,
                    SLOPE_WORDS.get(status, status),
                ],
            )
        )
    return rows


def drift_rows(run: dict[str, Any]) -> list[tuple[str, list[str]]]:
    drift = run.get("longevity", {}).get("drift")
    if not drift:
        return []
    rows = []
    for r in drift["rows"]:
        growth = r["p99_growth"]
        grown = NONE if growth is None else f"{growth * 100:+.0f}% ({r['p99_delta_ms']:+.1f} ms)"
        status = "fail" if r["drifting"] else "pass" if r["judged"] else "unknown"
        verdict = "DRIFT" if r["drifting"] else "ok" if r["judged"] else "too few samples"
        rows.append(
            (
                status,
                [
                    r["f"],
                    f"{r['first_n']:,} / {r['last_n']:,}",
                    f"{number(r['first_p50_ms'])} → {number(r['last_p50_ms'])}",
                    f"{number(r['first_p99_ms'])} → {number(r['last_p99_ms'])}",
                    grown,
                    verdict,
                ],
            )
        )
    return rows


def drift_windows_text(run: dict[str, Any]) -> str:
    drift = run.get("longevity", {}).get("drift") or {}
    windows = drift.get("windows") or []
    if len(windows) != 2:
        return ""
    (a0, a1), (b0, b1) = windows
    settings = drift.get("settings", {})
    rule = ""
    if settings:
        rule = (
            f"; fails when p99 grows by more than {settings['p99_growth'] * 100:.0f}% and by at "
            f"least {settings['min_growth_s'] * 1000:.0f} ms (operations with "
            f"{settings['min_samples']}+ samples in both windows)"
        )
    return f"first window {a0:.0f}-{a1:.0f} s, last window {b0:.0f}-{b1:.0f} s{rule}."


def leak_settings_text(run: dict[str, Any]) -> str:
    leak = run.get("longevity", {}).get("leak") or {}
    settings = leak.get("settings") or {}
    if not settings:
        return ""
    limits = settings.get("thresholds_per_h", {})
    mib = 1024 * 1024
    warmup = settings.get("warmup")
    parts = [
        f"leak when the 95% lower bound of the slope is above the threshold over the whole "
        f"window and its second half (RSS {number(limits.get('rss', 0) / mib)} MiB/h, fds "
        f"{number(limits.get('fds'))}/h, Redis {number(limits.get('used_memory', 0) / mib)} "
        f"MiB/h)",
        f"memory limit {number(settings.get('memory_limit', 0) / mib)} MiB",
        "warm-up " + ("25% of each series, at most 60 s" if warmup is None else f"{warmup:g} s"),
    ]
    return "; ".join(parts) + "."


def monitor_text(run: dict[str, Any]) -> str:
    monitor = run.get("longevity", {}).get("monitor") or {}
    if not monitor.get("sweeps"):
        return ""
    return (
        f"Sampling every {number(monitor.get('interval_s'))} s: {monitor['sweeps']:,} sweeps, "
        f"{monitor.get('samples', 0):,} samples; the sampler used "
        f"{number(monitor.get('cpu_ms_per_sweep'))} ms CPU per sweep, a sweep took "
        f"{number(monitor.get('sweep_ms_p50'))} ms (p50), {number(monitor.get('sweep_ms_max'))} "
        f"ms at most."
    )
