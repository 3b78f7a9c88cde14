"""Prometheus exposition of a node's counters, through prometheus_client's collector API."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from reference_server.node import Node


class NodeCollector(Collector):
    def __init__(self, node: Node) -> None:
        self._node = node
        self.sessions = 0  # refreshed by the /metrics handler, which may await the store

    def collect(self) -> Iterator[Metric]:
        stats = self._node.stats
        labels = ["node"]
        node_id = [self._node.config.node_id]

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(name, doc, labels=labels)
            family.add_metric(node_id, value)
            return family

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            family = CounterMetricFamily(name, doc, labels=labels)
            family.add_metric(node_id, value)
            return family

        yield gauge("mcp_sessions", "Live sessions in the store this node uses", self.sessions)
        yield gauge(
            "mcp_open_streams",
            "Listening streams open on this node",
            len(self._node.streams.local_sessions()),
        )
        yield gauge(
            "mcp_listen_streams",
            "subscriptions/listen streams open on this node",
            self._node.bus.local_listeners(),
        )
        limits = self._node.config.event_log
        yield gauge(
            "mcp_event_log_retention_seconds",
            "Seconds an event stays in a session's log: how long after load begins the logs "
            "stop growing",
            limits.retention,
        )
        yield gauge(
            "mcp_event_log_max_entries", "Events kept per session at most", limits.max_entries
        )
        yield counter("mcp_requests", "HTTP requests to /mcp", stats.requests)
        yield counter(
            "mcp_messages_routed_local",
            "Messages pushed to a stream held by the emitting node",
            stats.messages_local,
        )
        yield counter(
            "mcp_messages_routed_remote",
            "Messages forwarded to the node holding the stream",
            stats.messages_remote,
        )
        yield counter(
            "mcp_messages_received_remote",
            "Messages forwarded here by other nodes",
            stats.messages_received_remote,
        )
        yield counter(
            "mcp_responses_forwarded",
            "Client responses forwarded to the waiting node",
            stats.responses_forwarded,
        )
        yield counter(
            "mcp_changes_published",
            "Change notifications this node published on the subscription bus",
            stats.changes_published,
        )
        yield counter(
            "mcp_changes_received",
            "Change notifications this node received from the subscription bus",
            stats.changes_received,
        )
        yield counter(
            "mcp_listen_breaks",
            "Listen streams ended without completion because the bus's link broke",
            stats.listen_breaks,
        )
        yield counter("mcp_redis_errors", "Redis calls that failed", stats.redis_errors)


class NodeMetrics:
    def __init__(self, node: Node) -> None:
        self._node = node
        self._registry = CollectorRegistry(auto_describe=False)
        self._collector = NodeCollector(node)
        self._registry.register(self._collector)

    async def render(self) -> bytes:
        try:
            self._collector.sessions = await self._node.store.live_count()
        except Exception:
            self._collector.sessions = -1
        return generate_latest(self._registry)
