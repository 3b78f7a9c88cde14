"""Resource sampling during a run: nodes, Redis and the load generator, into the history."""

from harness.monitor.sampler import ResourceSampler, SampleTarget

__all__ = ["ResourceSampler", "SampleTarget"]
