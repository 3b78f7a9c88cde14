"""Interop: the official Python SDK client (``mcp`` 2.x) against a real reference-server node.

The SDK client is the independent "real client": it initializes, lists tools, calls echo,
receives notifications on its GET listening stream, and answers a sampling request through
its sampling callback, all over the Streamable HTTP transport of a node backed by Redis.

The SDK is anyio based; each test runs one coroutine under ``anyio.run`` (asyncio backend)
inside a synchronous test, bounded by ``anyio.fail_after`` and ``pytest.mark.timeout``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio
import pytest
from mcp import types
from mcp.client.context import ClientRequestContext
from mcp.client.session import ClientSession, IncomingMessage
from mcp.client.streamable_http import streamable_http_client

from harness.cluster.local import LocalCluster

# Bound on one whole scenario; the node answers in milliseconds.
SCENARIO_TIMEOUT = 30.0
# Bound on one notification arriving on the listening stream.
ARRIVAL = 5.0

SamplingCallback = Callable[
    [ClientRequestContext, types.CreateMessageRequestParams],
    Awaitable[types.CreateMessageResult | types.ErrorData],
]


class Inbox:
    """Everything the SDK surfaces to ``logging_callback`` and ``message_handler``."""

    def __init__(self) -> None:
        self.logs: list[types.LoggingMessageNotificationParams] = []
        self.messages: list[IncomingMessage] = []
        self._changed = anyio.Event()

    async def on_log(self, params: types.LoggingMessageNotificationParams) -> None:
        self.logs.append(params)
        self._wake()

    async def on_message(self, message: IncomingMessage) -> None:
        self.messages.append(message)
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def notify_data(self, nonce: str) -> list[dict[str, Any]]:
        """The ``data`` of every notifications/message of the notify tool for ``nonce``."""
        return [
            log.data
            for log in self.logs
            if isinstance(log.data, dict) and log.data.get("nonce") == nonce
        ]

    def has_notify(self, nonce: str) -> bool:
        return bool(self.notify_data(nonce))

    async def wait_for(self, condition: Callable[[], bool], timeout: float = ARRIVAL) -> bool:
        with anyio.move_on_after(timeout):
            while not condition():
                await self._changed.wait()
            return True
        return condition()


@asynccontextmanager
async def sdk_session(
    url: str, inbox: Inbox, sampling_callback: SamplingCallback | None = None
) -> AsyncIterator[ClientSession]:
    async with (
        streamable_http_client(url) as (read_stream, write_stream),
        ClientSession(
            read_stream,
            write_stream,
            read_timeout_seconds=10.0,
            sampling_callback=sampling_callback,  # type: ignore[arg-type]
            logging_callback=inbox.on_log,
            message_handler=inbox.on_message,
            client_info=types.Implementation(name="mcp-scale-interop", version="0.1"),
        ) as session,
    ):
        yield session


async def wait_for_listening_stream(session: ClientSession, inbox: Inbox) -> None:
    """The SDK opens its GET stream in the background after initialize; a notification sent
    before it is open goes only to the event log (nothing to resume from yet), so probe until
    one arrives."""
    for attempt in range(50):
        nonce = f"probe-{attempt}-{uuid.uuid4().hex}"
        await session.call_tool("notify", {"count": 1, "nonce": nonce})
        if await inbox.wait_for(partial(inbox.has_notify, nonce), timeout=0.2):
            return
    raise AssertionError("the SDK client's listening stream never received a notification")


def text_of(result: types.CallToolResult) -> str:
    texts = [block.text for block in result.content if isinstance(block, types.TextContent)]
    return "".join(texts)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        with anyio.fail_after(SCENARIO_TIMEOUT):
            await scenario()

    anyio.run(bounded, backend="asyncio")


@pytest.fixture
def node_url(make_cluster: Callable[..., LocalCluster]) -> str:
    return make_cluster(1, "redis").urls[0]


@pytest.mark.timeout(60)
def test_sdk_client_initializes_lists_tools_and_calls_echo(node_url: str) -> None:
    async def scenario() -> None:
        inbox = Inbox()
        async with sdk_session(node_url, inbox) as session:
            init = await session.initialize()
            assert init.protocol_version in ("2025-03-26", "2025-06-18", "2025-11-25")
            assert init.server_info.name
            assert init.capabilities.tools is not None

            listed = await session.list_tools()
            names = {tool.name for tool in listed.tools}
            assert {"echo", "whoami", "notify", "sample", "log", "broadcast"} <= names
            echo = next(tool for tool in listed.tools if tool.name == "echo")
            assert echo.input_schema["required"] == ["text"]

            nonce = uuid.uuid4().hex
            result = await session.call_tool("echo", {"text": f"hello {nonce}"})
            assert not result.is_error
            assert text_of(result) == f"hello {nonce}"

            who = await session.call_tool("whoami", {})
            assert not who.is_error
            assert who.structured_content is not None
            assert who.structured_content["node"] == "n1"
            assert who.structured_content["session"]

            await session.send_ping()

    run(scenario)


@pytest.mark.timeout(60)
def test_sdk_client_receives_notifications_on_its_listening_stream(node_url: str) -> None:
    async def scenario() -> None:
        inbox = Inbox()
        async with sdk_session(node_url, inbox) as session:
            await session.initialize()
            await wait_for_listening_stream(session, inbox)

            nonce = uuid.uuid4().hex
            result = await session.call_tool(
                "notify", {"count": 5, "interval_ms": 10, "nonce": nonce}
            )
            assert not result.is_error
            assert result.structured_content == {"emitted": 5}
            assert await inbox.wait_for(lambda: len(inbox.notify_data(nonce)) >= 5)
            data = inbox.notify_data(nonce)
            assert [item["seq"] for item in data] == [1, 2, 3, 4, 5]
            assert all(isinstance(item["sent_at"], float) for item in data)
            logs = [log for log in inbox.logs if log.data in data]
            assert {(log.level, log.logger) for log in logs} == {("info", "notify")}
            # The message handler sees the same notifications, typed.
            typed = [
                message
                for message in inbox.messages
                if isinstance(message, types.LoggingMessageNotification)
                and message.params.data in data
            ]
            assert len(typed) == 5

    run(scenario)


@pytest.mark.timeout(60)
def test_sdk_client_answers_sampling_through_its_callback(node_url: str) -> None:
    async def scenario() -> None:
        inbox = Inbox()
        asked: list[types.CreateMessageRequestParams] = []

        async def sampling(
            context: ClientRequestContext, params: types.CreateMessageRequestParams
        ) -> types.CreateMessageResult:
            asked.append(params)
            prompt = params.messages[0].content
            assert isinstance(prompt, types.TextContent)
            return types.CreateMessageResult(
                role="assistant",
                content=types.TextContent(type="text", text=f"answer to {prompt.text}"),
                model="interop-model",
                stop_reason="endTurn",
            )

        async with sdk_session(node_url, inbox, sampling) as session:
            init = await session.initialize()
            assert init.protocol_version
            for _ in range(3):
                nonce = uuid.uuid4().hex
                prompt = f"prompt {nonce}"
                result = await session.call_tool("sample", {"prompt": prompt, "nonce": nonce})
                assert not result.is_error, text_of(result)
                assert result.structured_content == {"text": f"answer to {prompt}", "nonce": nonce}
                params = asked[-1]
                assert params.metadata == {"nonce": nonce}
                assert params.meta is not None
                assert params.meta.get("nonce") == nonce
                assert params.max_tokens == 64
            assert len(asked) == 3

    run(scenario)


@pytest.mark.timeout(60)
def test_sdk_client_without_sampling_gets_a_tool_error(node_url: str) -> None:
    """The SDK declares sampling only when given a callback; the server must not ask."""

    async def scenario() -> None:
        inbox = Inbox()
        async with sdk_session(node_url, inbox) as session:
            await session.initialize()
            result = await session.call_tool("sample", {"prompt": "p", "nonce": "n"})
            assert result.is_error
            assert "sampling" in text_of(result)

    run(scenario)
