"""Sizes and rates as people write them in flags and profiles: 1GiB, 512MB, 50MiB/h, 20%."""

from __future__ import annotations

import re

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*(?:/\s*h)?\s*$", re.IGNORECASE)
_POWERS = {"k": 1, "m": 2, "g": 3, "t": 4}


def parse_size(text: str | float | int) -> float:
    """Bytes in ``text``: a plain number, or with a unit (B, KB/KiB, MB/MiB, GB/GiB, TB/TiB;
    K, M, G, T alone are binary). A trailing ``/h`` is allowed (a growth rate per hour)."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        if text < 0:
            raise ValueError(f"size {text} is negative")
        return float(text)
    match = _SIZE.match(str(text))
    if match is None:
        raise ValueError(f"{text!r} is not a size (examples: 1GiB, 512MB, 50MiB/h, 4096)")
    number = float(match.group(1))
    unit = (match.group(2) or "b").lower()
    if unit == "b":
        return number
    base = 1000 if unit.endswith("b") and "i" not in unit else 1024
    return float(number * base ** _POWERS[unit[0]])


def parse_count_rate(text: str | float | int) -> float:
    """A count per hour: ``200`` or ``200/h``."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        if text < 0:
            raise ValueError(f"{text} is negative")
        return float(text)
    cleaned = str(text).strip().lower().removesuffix("/h").strip()
    try:
        value = float(cleaned)
    except ValueError:
        raise ValueError(f"{text!r} is not a count per hour (examples: 200, 200/h)") from None
    if value < 0:
        raise ValueError(f"{text!r} is negative")
    return value


def parse_fraction(text: str | float | int) -> float:
    """A relative growth: ``50%`` or ``0.5``."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        value = float(text)
    else:
        cleaned = str(text).strip()
        percent = cleaned.endswith("%")
        try:
            value = float(cleaned.removesuffix("%").strip())
        except ValueError:
            raise ValueError(f"{text!r} is not a fraction (examples: 50%, 0.5)") from None
        if percent:
            value /= 100.0
    if value < 0:
        raise ValueError(f"{text!r} is negative")
    return value
