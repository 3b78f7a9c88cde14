"""Failures of the session store and stream manager, translated to HTTP at one boundary."""


class StoreUnavailable(Exception):
    """The shared store (Redis) did not answer in bounded time; the request fails with 503."""
