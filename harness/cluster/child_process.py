"""Ending a child process the harness started: a signal, a bounded wait, SIGKILL if need be."""

from __future__ import annotations

import signal
import subprocess


def signal_and_wait(process: subprocess.Popen[bytes] | None, sig: signal.Signals) -> None:
    """Send ``sig`` (after SIGCONT, so a paused process can act on it) and wait for the exit;
    a process still running 10 s later is SIGKILLed."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGCONT)
    process.send_signal(sig)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
