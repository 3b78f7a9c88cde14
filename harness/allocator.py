"""glibc's allocator, told to give memory back, for the analysis's forked passes
(harness.analysis): their state grows for a minute and is dropped all at once, while the
other pass may still be at its peak. No library wraps mallopt and malloc_trim; where the C
library is not glibc, these do nothing."""

from __future__ import annotations

import ctypes
from typing import Any

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
# Blocks this big or bigger get pages of their own: a pass's arrays and large dicts as they
# grow. glibc's default starts at 128 KiB and rises (to 32 MiB) as such blocks are freed,
# then serves them from its heap, which keeps what they leave behind: at 10M records the
# analysis's two passes peaked at 1,016 MiB PSS that way and 897 MiB this way, one run
# after the other, in the same time (1,018-1,046 and 985-994 MiB in three runs each before).
BIG_BLOCK = 256 << 10


def map_big_blocks_apart(size: int = BIG_BLOCK) -> None:
    """From now on, each block of ``size`` bytes or more is mapped apart and unmapped when
    freed, and the heap is trimmed when ``size`` bytes are free at its top."""
    mallopt = _function("mallopt")
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, size)
        mallopt(M_TRIM_THRESHOLD, size)


def give_back_freed_memory() -> None:
    """Returns to the system the pages that freed blocks left in the heap (malloc_trim)."""
    trim = _function("malloc_trim")
    if trim is not None:
        trim(0)


def _function(name: str) -> Any:
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
