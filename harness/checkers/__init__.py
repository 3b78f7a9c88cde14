"""Checkers: each reads a run's merged history and says what was lost, crossed or hung."""

from harness.checkers.context import CheckContext
from harness.checkers.result import CheckResult, Validity, merge_validity

__all__ = ["CheckContext", "CheckResult", "Validity", "merge_validity"]
