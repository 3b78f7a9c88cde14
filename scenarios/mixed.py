"""Mixed: notifications, sampling, subscriptions and churn in one population, weighted the way
a busy cluster sees them. Lets every checker run on one history."""

from __future__ import annotations

from scenarios.churn import ChurnUser
from scenarios.notifications import NotificationsUser
from scenarios.sampling import SamplingUser
from scenarios.subscriptions import SubscriptionsUser


class MixedNotifications(NotificationsUser):
    weight = 4


class MixedSampling(SamplingUser):
    weight = 2


class MixedSubscriptions(SubscriptionsUser):
    weight = 2


class MixedChurn(ChurnUser):
    weight = 1


# Locust collects every User class in a locustfile, imported ones too: keep only the mixes.
del ChurnUser, NotificationsUser, SamplingUser, SubscriptionsUser
