"""requestState sealed with a key the cluster shares, so that any node opens what any node
issued (mrtr.mdx: a retry must work "without requiring a shared storage layer ... or stateful
load balancing").

Format: ``<payload>.<tag>``, both base64url; the payload is JSON ``{"v", "id", "exp", "b",
"d"}``: a random id (for single use), an expiry, the binding to the originating request (method,
name or URI, digest of the arguments) and the tool's own data. The tag is HMAC-SHA256 of the
payload text. Integrity is what the spec asks for ("HMAC or AEAD"); the payload holds only what
the client itself sent and the server's step counter, nothing secret from the client, so the
standard library's hmac is enough and no cipher (AEAD) is needed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from reference_server.protocol import JsonDict

FORMAT_VERSION = 1
# Where a node finds the cluster's key when no --state-key-file is given.
STATE_KEY_ENV = "MCP_SCALE_STATE_KEY"
# Shorter keys make the HMAC guessable; the harness writes 32 random bytes.
MIN_KEY_BYTES = 16


class InvalidState(Exception):
    """A requestState that this server did not issue for this request, or that expired."""


@dataclass(frozen=True)
class Binding:
    """The originating request a state belongs to: a state is accepted only on its retry."""

    method: str
    name: str
    arguments_digest: str

    @classmethod
    def of(cls, method: str, params: JsonDict) -> Binding:
        name = params.get("name", params.get("uri", ""))
        arguments = params.get("arguments") or {}
        # The standard library's json, not orjson: an argument may be an integer past 64 bits.
        canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"))
        return cls(method, str(name), hashlib.sha256(canonical.encode()).hexdigest()[:32])

    def as_list(self) -> list[str]:
        return [self.method, self.name, self.arguments_digest]


@dataclass(frozen=True)
class OpenedState:
    state_id: str
    expires_at: float
    data: JsonDict


class StateSealer:
    """Seals and opens requestState with one key; ``clock`` is replaceable for expiry tests."""

    def __init__(self, key: bytes, ttl: float, clock: Callable[[], float] = time.time) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the requestState key must be at least {MIN_KEY_BYTES} bytes")
        self._key = key
        self._ttl = ttl
        self._clock = clock

    def seal(self, binding: Binding, data: JsonDict) -> str:
        payload = {
            "v": FORMAT_VERSION,
            "id": secrets.token_hex(16),
            "exp": round(self._clock() + self._ttl, 3),
            "b": binding.as_list(),
            "d": data,
        }
        body = _b64(orjson.dumps(payload))
        return f"{body}.{_b64(self._tag(body))}"

    def open(self, token: str, binding: Binding) -> OpenedState:
        """The state's content, or InvalidState saying why it is refused."""
        body, dot, tag = token.partition(".")
        if not dot or not token.isascii() or not hmac.compare_digest(_unb64(tag), self._tag(body)):
            raise InvalidState("requestState failed verification (not issued by this server)")
        try:
            payload = orjson.loads(_unb64(body))
        except orjson.JSONDecodeError as exc:  # only with a forged tag, i.e. a leaked key
            raise InvalidState("requestState payload is not JSON") from exc
        if not isinstance(payload, dict) or payload.get("v") != FORMAT_VERSION:
            raise InvalidState("requestState has an unknown format")
        if payload.get("b") != binding.as_list():
            raise InvalidState(
                "requestState belongs to another request (method, name or arguments)"
            )
        expires_at = float(payload.get("exp", 0))
        if self._clock() >= expires_at:
            raise InvalidState("requestState expired: start the request again without it")
        data = payload.get("d")
        return OpenedState(
            str(payload.get("id")), expires_at, data if isinstance(data, dict) else {}
        )

    def _tag(self, body: str) -> bytes:
        return hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return b""
