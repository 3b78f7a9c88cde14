"""Multi round-trip requests (2026-07-28): sealed requestState and its single use."""

from reference_server.mrtr.base import RequestStateStore
from reference_server.mrtr.memory import InMemoryRequestStateStore
from reference_server.mrtr.redis import RedisRequestStateStore
from reference_server.mrtr.rounds import InputRequired, InputRound
from reference_server.mrtr.state import Binding, InvalidState, OpenedState, StateSealer

__all__ = [
    "Binding",
    "InMemoryRequestStateStore",
    "InputRequired",
    "InputRound",
    "InvalidState",
    "OpenedState",
    "RedisRequestStateStore",
    "RequestStateStore",
    "StateSealer",
]
