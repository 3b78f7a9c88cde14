"""What a handler sees of a multi round-trip request, and how it asks the client for input."""

from __future__ import annotations

from dataclasses import dataclass, field

from reference_server.protocol import MISSING_CLIENT_CAPABILITY, JsonDict, RpcError

# The client capability each kind of input request needs (mrtr.mdx: never ask for what the
# client did not declare).
INPUT_CAPABILITY = {
    "elicitation/create": "elicitation",
    "sampling/createMessage": "sampling",
    "roots/list": "roots",
}


def missing_capabilities(requests: JsonDict, capabilities: JsonDict) -> dict[str, JsonDict]:
    """The client capabilities ``requests`` need and ``capabilities`` lack, as the
    ``requiredCapabilities`` of a -32021 error names them ({"sampling": {}})."""
    return {
        INPUT_CAPABILITY[r["method"]]: {}
        for r in requests.values()
        if INPUT_CAPABILITY[r["method"]] not in capabilities
    }


class InputRequired(Exception):
    """Raised by a handler that needs client input: the transport answers with an
    ``input_required`` result carrying ``requests`` and ``state`` sealed as requestState."""

    def __init__(self, requests: JsonDict, state: JsonDict | None = None) -> None:
        super().__init__(f"input required: {', '.join(requests)}")
        self.requests = requests
        self.state = state or {}


@dataclass(frozen=True)
class InputRound:
    """A call of the 2026-07-28 revision: the client's ``inputResponses`` (empty on a first
    call) and the data the server sealed into the ``requestState`` it echoed (None when it sent
    none). The state was verified, bound to this request and used up before the handler runs."""

    responses: JsonDict = field(default_factory=dict)
    state: JsonDict | None = None

    def answers(
        self,
        requests: JsonDict,
        capabilities: JsonDict,
        state: JsonDict | None = None,
        needs_state: bool = False,
    ) -> JsonDict:
        """The answer to each of ``requests`` ({key: {"method", "params"}}); until all are here
        (and, with ``needs_state``, a verified requestState came too), InputRequired asks for
        them all again with ``state``. Answers that are not objects count as missing, keys not
        asked for are ignored (mrtr.mdx, "Error Handling")."""
        missing = missing_capabilities(requests, capabilities)
        if missing:
            raise RpcError(
                MISSING_CLIENT_CAPABILITY,
                f"this call needs the client capabilities {', '.join(missing)}",
                {"requiredCapabilities": missing},
            )
        found = {
            key: self.responses[key]
            for key in requests
            if isinstance(self.responses.get(key), dict)
        }
        if len(found) < len(requests) or (needs_state and self.state is None):
            raise InputRequired(requests, state)
        return found
