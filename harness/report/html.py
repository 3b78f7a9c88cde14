"""report.html: one self-contained page (inline CSS, charts as base64 PNG, no links out)."""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path
from typing import Any

from harness.report import _format as fmt

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2329;
       margin: 0 auto; max-width: 1240px; padding: 0 20px 40px; background: #fff; }
header { padding: 18px 22px; border-radius: 8px; margin: 18px 0 8px; color: #fff; }
header.pass { background: #1f7a3a; } header.fail { background: #b42318; }
header.unknown { background: #6b7280; }
header h1 { margin: 0; font-size: 26px; } header p { margin: 4px 0 0; opacity: .92; }
h2 { margin: 28px 0 8px; font-size: 19px; border-bottom: 1px solid #dde1e6; padding-bottom: 4px; }
h3 { margin: 16px 0 6px; font-size: 16px; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 14px; }
th, td { border: 1px solid #dde1e6; padding: 5px 9px; text-align: left; vertical-align: top; }
th { background: #f3f5f7; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.s-pass { background: #e8f5ec; } .s-fail { background: #fde8e7; }
.s-unknown { background: #f1f2f4; } .s-expected { background: #fff6e0; }
.runs { display: flex; flex-wrap: wrap; gap: 24px; }
figure { margin: 14px 0 22px; } figure img { max-width: 100%; border: 1px solid #e5e7eb; }
figcaption { color: #4b5563; font-size: 13px; margin-top: 4px; }
.note { color: #6b7280; font-style: italic; }
pre { background: #f6f8fa; padding: 8px; overflow-x: auto; font-size: 12px; }
details { margin: 6px 0; } summary { cursor: pointer; font-weight: 600; }
"""


def render_html(summary: dict[str, Any], out_dir: Path) -> str:
    runs: list[dict[str, Any]] = summary["runs"]
    verdict = summary["verdict"]
    labels = ", ".join(escape(r["label"]) for r in runs)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>mcp-scale report: {escape(fmt.WORDS[verdict])}</title>",
        f"<style>{STYLE}</style></head><body>",
        f'<header class="{verdict}"><h1>mcp-scale report: {escape(fmt.WORDS[verdict])}</h1>',
        f"<p>runs: {labels} &middot; generated {escape(summary['generated_at'])}</p></header>",
    ]
    parts += _checkers(runs) + _thresholds(runs) + _key_numbers(runs) + _metrics(runs)
    parts += _longevity(runs)
    parts += _charts(summary, out_dir) + _latency(runs) + _faults(runs) + _failures(runs)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


Cell = str | tuple[str, str]  # escaped HTML, or (status, escaped HTML) for a status cell


def _table(header: list[str], rows: list[list[Cell]], numeric_from: int = 99) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            if isinstance(cell, tuple):
                css, text = f' class="s-{cell[0]}"', cell[1]
            else:
                css, text = (' class="num"' if i >= numeric_from else ""), cell
            cells.append(f"<td{css}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _status_cell(status: str, text: str) -> Cell:
    return (status, escape(text))


def _checkers(runs: list[dict[str, Any]]) -> list[str]:
    names = fmt.rows_by_name(runs, "checkers", "name")
    if not names:
        return ["<h2>Checkers</h2>", '<p class="note">No checker results.</p>']
    rows = []
    for name in names:
        row: list[Cell] = [escape(name)]
        for run in runs:
            checker = fmt.find(run, "checkers", "name", name)
            status = checker["status"] if checker else "unknown"
            row.append(_status_cell(status, fmt.checker_cell(checker, icons=False)))
        rows.append(row)
    return ["<h2>Checkers</h2>", _table(["checker", *(escape(r["label"]) for r in runs)], rows)]


def _thresholds(runs: list[dict[str, Any]]) -> list[str]:
    names = fmt.rows_by_name(runs, "thresholds", "threshold")
    if not names:
        return []
    rows = []
    for name in names:
        row: list[Cell] = [escape(name)]
        for run in runs:
            gate = fmt.find(run, "thresholds", "threshold", name)
            status = fmt.threshold_status(gate["passed"]) if gate else "unknown"
            row.append(_status_cell(status, fmt.threshold_cell(gate, icons=False)))
        rows.append(row)
    return ["<h2>Thresholds</h2>", _table(["threshold", *(escape(r["label"]) for r in runs)], rows)]


def _key_numbers(runs: list[dict[str, Any]]) -> list[str]:
    columns = [dict(fmt.key_numbers(r, icons=False)) for r in runs]
    rows = []
    for name in columns[0]:
        cells: list[Cell] = [escape(name)]
        for run, column in zip(runs, columns, strict=True):
            if name == "verdict":
                cells.append(_status_cell(run["verdict"], column[name]))
            else:
                cells.append(escape(column[name]))
        rows.append(cells)
    return ["<h2>Key numbers</h2>", _table(["", *(escape(r["label"]) for r in runs)], rows)]


def _metrics(runs: list[dict[str, Any]]) -> list[str]:
    rows: list[list[Cell]] = [[escape(c) for c in row] for row in fmt.metric_rows(runs)]
    if not rows:
        return []
    table = _table(["metric", *(escape(r["label"]) for r in runs)], rows, numeric_from=1)
    return [f"<details><summary>Metrics ({len(rows)})</summary>{table}</details>"]


def _charts(summary: dict[str, Any], out_dir: Path) -> list[str]:
    parts = ["<h2>Charts</h2>"]
    for chart in summary.get("charts", []):
        data = base64.b64encode((out_dir / chart["file"]).read_bytes()).decode("ascii")
        parts.append(
            f'<figure><h3>{escape(chart["title"])}</h3><img src="data:image/png;base64,{data}" '
            f'alt="{escape(chart["title"])}"><figcaption>{escape(chart["caption"])}'
            "</figcaption></figure>"
        )
    parts += [f'<p class="note">{escape(note)}</p>' for note in summary.get("notes", [])]
    return parts


def _latency(runs: list[dict[str, Any]]) -> list[str]:
    blocks = []
    for run in runs:
        rows: list[list[Cell]] = [[escape(c) for c in row] for row in fmt.latency_rows(run)]
        if rows:
            table = _table(fmt.LATENCY_HEADER, rows, numeric_from=1)
            blocks.append(f"<div><h3>{escape(run['label'])}</h3>{table}</div>")
    if not blocks:
        return []
    title = "<h2>Latency (ms, successful operations)</h2>"
    return [title, f'<div class="runs">{"".join(blocks)}</div>']


def _faults(runs: list[dict[str, Any]]) -> list[str]:
    blocks = []
    for run in runs:
        rows: list[list[Cell]] = [[escape(c) for c in row] for row in fmt.fault_rows(run)]
        table = _table(fmt.FAULT_HEADER, rows) if rows else '<p class="note">No fault.</p>'
        blocks.append(f"<div><h3>{escape(run['label'])}</h3>{table}</div>")
    return ["<h2>Faults</h2>", f'<div class="runs">{"".join(blocks)}</div>']


def _longevity(runs: list[dict[str, Any]]) -> list[str]:
    """Resources, leak slopes and latency drift, one block per run, when there are any."""
    parts: list[str] = []
    named = len(runs) > 1
    for run in runs:
        suffix = f": {escape(run['label'])}" if named else ""
        rows: list[list[Cell]] = [[escape(c) for c in row] for row in fmt.resource_rows(run)]
        if rows:
            parts.append(f"<h2>Resources{suffix}</h2>")
            parts.append(_table([escape(h) for h in fmt.RESOURCE_HEADER], rows, numeric_from=1))
            note = fmt.monitor_text(run)
            if note:
                parts.append(f'<p class="note">{escape(note)}</p>')
        longevity = run.get("longevity", {})
        for key, title, header, found in (
            ("leak", "Leak check: growth per hour", fmt.SLOPE_HEADER, fmt.slope_rows(run)),
            ("drift", "Latency drift", fmt.DRIFT_HEADER, fmt.drift_rows(run)),
        ):
            check = longevity.get(key)
            if not check:
                continue
            parts.append(f"<h2>{title}{suffix}</h2>")
            status = check["status"]
            parts.append(
                f'<p class="s-{status}" style="padding:4px 8px">'
                f"{escape(fmt.status_text(status, icons=False))}: {escape(check['summary'])}</p>"
            )
            if found:
                cells: list[list[Cell]] = []
                for row_status, row in found:  # the verdict, last, coloured by it
                    verdict = _status_cell(row_status, row[-1])
                    cells.append([*(escape(c) for c in row[:-1]), verdict])
                parts.append(_table([escape(h) for h in header], cells, numeric_from=2))
            text = fmt.leak_settings_text(run) if key == "leak" else fmt.drift_windows_text(run)
            if text:
                parts.append(f'<p class="note">{escape(text)}</p>')
    return parts


def _failures(runs: list[dict[str, Any]]) -> list[str]:
    parts = []
    for run in runs:
        for checker in run["checkers"]:
            if checker["status"] == "pass":
                continue
            body = json.dumps(
                {"counts": checker["counts"], "examples": checker["examples"]}, indent=1
            )
            parts.append(
                f"<details><summary>{escape(run['label'])}: {escape(checker['name'])} "
                f"({escape(fmt.WORDS[checker['status']])}): {escape(checker['summary'])}"
                f"</summary><pre>{escape(body)}</pre></details>"
            )
    return ["<h2>What the checkers found</h2>", *parts] if parts else []
