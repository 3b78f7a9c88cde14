"""Gates: thresholds declared as data, validated before a run, evaluated after it (like k6).

    thresholds = parse_thresholds(["delivery.lost == 0", "latency.tools_call.p99 < 250ms"])
    ...  # the run
    results = evaluate(thresholds, compute_metrics(history, check_results))

Metric names (``<metric>.<aggregate>``; a threshold compares one of them):

- ``<checker>.<count>``: every count of a checker that decided (valid true or false), e.g.
  ``survival.lost``, ``survival.outage_p99_ms``, ``delivery.lost``, ``delivery.duplicated``,
  ``delivery.late``, ``delivery.latency_p99_ms``, ``routing.crossed``, ``isolation.crossed``,
  ``broadcast.missed``, ``liveness.hangs``, ``liveness.stall_max_ms``. The full list is
  ``metric_names()`` (from each checker's ``COUNTS``).
- ``latency.<op>.p50|p90|p95|p99|max|mean|count``: milliseconds of the ``ok`` completions of
  each operation ``f``, with ``:``, ``/`` and ``-`` written ``_`` (``latency.call_notify``,
  ``latency.initialize``, ``latency.stream_open``), and ``latency.tools_call`` for every
  ``call:<tool>`` together.
- ``requests.count``: completed client operations (events and interrupted ones excluded);
  ``requests.rate``: per second over the history's span.
- ``errors.count`` (``fail`` + ``info``), ``errors.rate`` (a fraction of requests.count: write
  ``errors.rate < 1%``), ``errors.timeouts``.
- ``messages.count``: messages received; ``faults.count``: faults applied.

Operators: ``< <= > >= == !=``. Units: ``ms s m h`` on times (compared in ms), ``%`` on rates.
A metric the run did not measure fails its threshold.
"""

from harness.gates.evaluate import ThresholdResult, all_passed, evaluate
from harness.gates.metrics import compute_metrics, op_metric_name, run_metrics, with_checker_counts
from harness.gates.thresholds import (
    OPERATORS,
    Threshold,
    ThresholdError,
    metric_names,
    parse_threshold,
    parse_thresholds,
)

__all__ = [
    "OPERATORS",
    "Threshold",
    "ThresholdError",
    "ThresholdResult",
    "all_passed",
    "compute_metrics",
    "evaluate",
    "metric_names",
    "op_metric_name",
    "parse_threshold",
    "parse_thresholds",
    "run_metrics",
    "with_checker_counts",
]
