"""Subscription buses: change notifications to the listen streams of every node (2026-07-28)."""

from reference_server.subscriptions.base import (
    Change,
    Ending,
    Listener,
    ListenFilter,
    SubscriptionBus,
)
from reference_server.subscriptions.listen import listen
from reference_server.subscriptions.memory import InMemorySubscriptionBus

__all__ = [
    "Change",
    "Ending",
    "InMemorySubscriptionBus",
    "ListenFilter",
    "Listener",
    "SubscriptionBus",
    "listen",
]
