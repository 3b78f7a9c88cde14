"""The nemesis: faults on the cluster's processes, on a schedule, recorded in the history."""

from harness.chaos.controller import ChaosController
from harness.chaos.faults import FAULTS, Fault, FaultTarget
from harness.chaos.schedule import parse_timeline, periodic_schedule

__all__ = [
    "FAULTS",
    "ChaosController",
    "Fault",
    "FaultTarget",
    "parse_timeline",
    "periodic_schedule",
]
