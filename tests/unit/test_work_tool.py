"""The reference server's ``work`` tool: a fixed number of slots per node, calls queue beyond."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from reference_server.protocol import RpcError
from reference_server.tools.base import ToolContext
from reference_server.tools.pack import work

NO_CONTEXT = cast(ToolContext, None)  # work uses nothing of its call's context


def test_work_holds_at_most_its_slots_at_once() -> None:
    async def calls() -> list[Any]:
        return await asyncio.gather(*(work({"ms": 5, "slots": 2}, NO_CONTEXT) for _ in range(6)))

    results = asyncio.run(calls())
    busy = [result["structuredContent"]["busy"] for result in results]
    assert max(busy) == 2
    assert all(result["structuredContent"]["worked_ms"] == 5 for result in results)


@pytest.mark.parametrize("slots", [0, -1, 1001])
def test_work_refuses_slots_out_of_bounds(slots: int) -> None:
    with pytest.raises(RpcError, match="slots must be between 1 and 1000"):
        asyncio.run(work({"ms": 1, "slots": slots}, NO_CONTEXT))
