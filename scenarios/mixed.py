"""Mixed: notifications, sampling, subscriptions and churn in one population, weighted the way
a busy cluster sees them. Lets every checker run on one history.

In 2026-07-28 (``--protocol 2026-07-28``: no sessions) the mix is that revision's: listen
streams with broadcasts and resource touches, and MRTR samples (scenarios listen and mrtr).
The run's manifest says which; a remote worker (``mcp-scale worker``) reads its locustfile
before the master's manifest arrives, so there the mix follows the worker's own
``MCP_SCALE_RUN_DIR`` (none: the handshake era's mix)."""

from __future__ import annotations

from scenarios.churn import ChurnUser
from scenarios.common import RUN
from scenarios.listen import ListenUser
from scenarios.mrtr import MrtrUser
from scenarios.notifications import NotificationsUser
from scenarios.registry import STATELESS
from scenarios.sampling import SamplingUser
from scenarios.subscriptions import SubscriptionsUser

if RUN.protocol == STATELESS:

    class MixedListen(ListenUser):
        weight = 3

    class MixedMrtr(MrtrUser):
        weight = 2

else:

    class MixedNotifications(NotificationsUser):
        weight = 4

    class MixedSampling(SamplingUser):
        weight = 2

    class MixedSubscriptions(SubscriptionsUser):
        weight = 2

    class MixedChurn(ChurnUser):
        weight = 1


# Locust collects every User class in a locustfile, imported ones too: keep only the mixes.
del ChurnUser, ListenUser, MrtrUser, NotificationsUser, SamplingUser, SubscriptionsUser
