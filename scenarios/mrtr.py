"""MRTR (2026-07-28): tools/call ``sample`` answered through ``input_required`` rounds; the
client routes every retry over the nodes like any request, so a round is often finished by
another node than the one that asked. Every answer carries the call's nonce.

To show that a requestState is single-use, a few calls send their last retry again on
purpose (op ``mrtr_replay``, to the node routing picks next), the used state unchanged
(``replay``) or with one character changed (``tamper``): the server must refuse both."""

from __future__ import annotations

import random
import string
from typing import Any

from locust import between, task

from harness.history import Record
from scenarios.common import ScenarioUser

REPLAY_FRACTION = 0.1  # of the sample calls that completed
REPLAY = "mrtr_replay"  # the op's f (harness/history/FORMAT.md)
_B64URL = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


class MrtrUser(ScenarioUser):
    wait_time = between(0.2, 0.8)
    listen = False  # no listen stream: only the rounds are under test
    delete_on_stop = False  # no session to delete

    replays = 0

    @task(6)
    def sample(self) -> None:
        nonce = self.nonce()
        record = self.action("sample", prompt="say something", nonce=nonce)
        if _completed_in_rounds(record) and random.random() < REPLAY_FRACTION:
            # In turn, a used state first: a run with any replay tests single use.
            self.replay(nonce, ("replay", "tamper")[self.replays % 2])
            self.replays += 1

    @task(1)
    def echo(self) -> None:
        self.action("echo", text=self.nonce())

    def replay(self, nonce: str, kind: str) -> None:
        """Sends the call's last retry again: its requestState was used by that retry."""
        retry: dict[str, Any] | None = getattr(self.client.wire, "last_retry", None)
        state = retry.get("requestState") if retry else None
        if retry is None or not isinstance(state, str) or not state:
            return
        params = dict(retry)
        if kind == "tamper":
            params["requestState"] = _tampered(state)
        self.client.request("tools/call", params, f=REPLAY, value={"kind": kind, "nonce": nonce})


def _completed_in_rounds(record: Record | None) -> bool:
    rounds = record.get("rounds") if record is not None else None
    return record is not None and record["type"] == "ok" and isinstance(rounds, int) and rounds > 1


def _tampered(state: str) -> str:
    """The state with its first character moved half the base64url alphabet away: a bit of
    the sealed payload changes, so its tag no longer matches."""
    first = state[0]
    index = _B64URL.find(first)
    other = _B64URL[(index + 32) % 64] if index >= 0 else "A"
    return other + state[1:]
