"""Hypothesis strategies for fuzzing an MCP Streamable HTTP endpoint, and the oracles that say
what a correct server answers to each kind of input.

What a method or tool accepts is written down here as plain data (``Target``: valid params and
the typed slots in them), independently of the server's code, so that a wrong type in any slot
can be checked to get JSON-RPC -32602, and a valid call to get a result.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

JsonDict = dict[str, Any]

VERSIONS = ("2025-03-26", "2025-06-18", "2025-11-25")
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602

# --- JSON values -----------------------------------------------------------------------------

short_text = st.text(max_size=12)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    short_text,
)
json_values: SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(short_text, inner, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(short_text, json_values, max_size=4)

# One strategy per JSON kind; "fraction" is a number that is not an integer.
KINDS: dict[str, SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "integer": st.integers(),
    "fraction": st.floats(allow_nan=False, allow_infinity=False).filter(
        lambda value: not value.is_integer()
    ),
    "string": short_text,
    "array": st.lists(json_values, max_size=3),
    "object": json_objects,
}
_ALIASES = {"number": ("integer", "fraction")}


def wrong_value(accepts: tuple[str, ...], enum: tuple[str, ...] = ()) -> SearchStrategy[Any]:
    """A JSON value of none of the ``accepts`` kinds (or, for an enum, not one of its values)."""
    if enum:
        return json_values.filter(lambda value: not isinstance(value, str) or value not in enum)
    allowed = {kind for name in accepts for kind in _ALIASES.get(name, (name,))}
    return st.one_of([strategy for kind, strategy in KINDS.items() if kind not in allowed])


# --- what each method and tool accepts -------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """A field of a request's params: where it is, which JSON kinds it takes, and whether it
    must be there."""

    path: tuple[str, ...]
    accepts: tuple[str, ...]
    required: bool = True
    enum: tuple[str, ...] = ()

    def wrong(self) -> SearchStrategy[Any]:
        return wrong_value(self.accepts, self.enum)


@dataclass(frozen=True)
class Target:
    """One thing to call: a method, or tools/call of one tool."""

    label: str
    method: str
    valid: SearchStrategy[JsonDict] = field(repr=False)
    slots: tuple[Slot, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class Call:
    """A request's method and params, and what is wrong in them (if anything)."""

    label: str
    method: str
    params: JsonDict
    wrong: str = ""


ids = st.one_of(st.integers(), st.text(max_size=10))
nonces = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=12)
# Time and count arguments stay small when valid, so that no valid call runs for long.
small_counts = st.integers(min_value=-2, max_value=5)
small_ms = st.integers(min_value=0, max_value=20) | st.floats(min_value=0, max_value=20)
progress_tokens = st.one_of(nonces, st.integers(min_value=0, max_value=2**31))

STRING, INTEGER, NUMBER, OBJECT = ("string",), ("integer",), ("number",), ("object",)

# name -> {argument: (kinds, valid values, required, enum)}
ToolArgs = dict[str, tuple[tuple[str, ...], SearchStrategy[Any], bool, tuple[str, ...]]]


def _arg(
    kinds: tuple[str, ...],
    valid: SearchStrategy[Any],
    required: bool = True,
    enum: tuple[str, ...] = (),
) -> tuple[tuple[str, ...], SearchStrategy[Any], bool, tuple[str, ...]]:
    return kinds, valid, required, enum


BROADCAST_KINDS = ("tools", "resources", "prompts")
NO_ARGS: ToolArgs = {}
TOOLS: dict[str, ToolArgs] = {
    "echo": {"text": _arg(STRING, short_text)},
    "whoami": NO_ARGS,
    "slow": {"ms": _arg(NUMBER, small_ms)},
    "work": {"ms": _arg(NUMBER, small_ms), "slots": _arg(INTEGER, st.integers(1, 8))},
    "notify": {
        "count": _arg(INTEGER, small_counts),
        "interval_ms": _arg(NUMBER, small_ms, required=False),
        "nonce": _arg(STRING, nonces),
    },
    "broadcast": {
        "kind": _arg(STRING, st.sampled_from(BROADCAST_KINDS), enum=BROADCAST_KINDS),
        "nonce": _arg(STRING, nonces),
    },
    "sample": {"prompt": _arg(STRING, short_text), "nonce": _arg(STRING, nonces)},
    "progress": {
        "steps": _arg(INTEGER, small_counts),
        "interval_ms": _arg(NUMBER, small_ms, required=False),
    },
    "log": {
        "level": _arg(STRING, st.sampled_from(LOG_LEVELS), enum=LOG_LEVELS),
        "message": _arg(STRING, short_text),
    },
    "touch_resource": {"uri": _arg(STRING, short_text)},
    "test_simple_text": NO_ARGS,
    "test_image_content": NO_ARGS,
    "test_audio_content": NO_ARGS,
    "test_embedded_resource": NO_ARGS,
    "test_multiple_content_types": NO_ARGS,
    "test_error_handling": NO_ARGS,
    "json_schema_2020_12_tool": {
        "name": _arg(STRING, short_text, required=False),
        "address": _arg(
            OBJECT,
            st.fixed_dictionaries({"street": short_text, "city": short_text}),
            required=False,
        ),
    },
    "test_tool_with_logging": NO_ARGS,
    "test_tool_with_progress": NO_ARGS,
    "test_sampling": {"prompt": _arg(STRING, short_text)},
    "test_elicitation": {"message": _arg(STRING, short_text)},
    "test_elicitation_sep1034_defaults": NO_ARGS,
    "test_elicitation_sep1330_enums": NO_ARGS,
    # The 2026-07-28 (MRTR) tools; in a 2025 session they ask with server->client requests.
    "test_logging_tool": NO_ARGS,
    "test_streaming_elicitation": NO_ARGS,
    "test_input_required_result_elicitation": NO_ARGS,
    "test_input_required_result_sampling": NO_ARGS,
    "test_input_required_result_list_roots": NO_ARGS,
    "test_input_required_result_request_state": NO_ARGS,
    "test_input_required_result_multiple_inputs": NO_ARGS,
    "test_input_required_result_multi_round": NO_ARGS,
    "test_input_required_result_tampered_state": NO_ARGS,
    "test_input_required_result_capabilities": NO_ARGS,
    "test_missing_capability": NO_ARGS,
    "test_trigger_tool_change": NO_ARGS,
    "test_trigger_prompt_change": NO_ARGS,
}
# Fields inside object arguments: (argument, field) -> kinds; all optional.
NESTED_TOOL_ARGS = {"json_schema_2020_12_tool": {("address", "street"), ("address", "city")}}

RESOURCES = ("test://static-text", "test://static-binary", "test://watched-resource")
template_uris = st.text(alphabet=string.ascii_letters + string.digits, min_size=1).map(
    lambda item: f"test://template/{item}/data"
)
# name -> required string arguments
PROMPTS = {
    "test_simple_prompt": (),
    "test_prompt_with_arguments": ("arg1", "arg2"),
    "test_prompt_with_embedded_resource": ("resourceUri",),
    "test_prompt_with_image": (),
    "test_input_required_result_prompt": (),
}


def _tool_target(name: str, arguments: ToolArgs) -> Target:
    argument_values = st.fixed_dictionaries(
        {arg: valid for arg, (_, valid, required, _) in arguments.items() if required},
        optional={arg: valid for arg, (_, valid, required, _) in arguments.items() if not required},
    )
    valid = st.fixed_dictionaries(
        {
            "name": st.just(name),
            "arguments": argument_values,
            "_meta": st.fixed_dictionaries({"progressToken": progress_tokens}),
        }
    )
    slots = [
        Slot(("name",), STRING),
        Slot(("arguments",), OBJECT, required=False),
        Slot(("_meta",), OBJECT, required=False),
        Slot(("_meta", "progressToken"), ("string", "integer"), required=False),
    ]
    for arg, (kinds, _, required, enum) in arguments.items():
        slots.append(Slot(("arguments", arg), kinds, required, enum))
    for path in sorted(NESTED_TOOL_ARGS.get(name, ())):
        slots.append(Slot(("arguments", *path), STRING, required=False))
    return Target(f"tools/call {name}", "tools/call", valid, tuple(slots))


def _prompt_target(name: str, required: tuple[str, ...]) -> Target:
    arguments = st.fixed_dictionaries({arg: short_text for arg in required})
    valid = st.fixed_dictionaries({"name": st.just(name), "arguments": arguments})
    slots = [Slot(("name",), STRING), Slot(("arguments",), OBJECT, required=False)]
    slots += [Slot(("arguments", arg), STRING) for arg in required]
    return Target(f"prompts/get {name}", "prompts/get", valid, tuple(slots))


def _completion_target(ref: JsonDict, ref_field: str) -> Target:
    valid = st.fixed_dictionaries(
        {
            "ref": st.just(ref),
            "argument": st.fixed_dictionaries({"name": short_text, "value": short_text}),
        }
    )
    ref_types = ("ref/prompt", "ref/resource")
    slots = (
        Slot(("ref",), OBJECT),
        Slot(("ref", "type"), STRING, enum=ref_types),
        Slot(("ref", ref_field), STRING),
        Slot(("argument",), OBJECT),
        Slot(("argument", "name"), STRING),
        Slot(("argument", "value"), STRING),
    )
    return Target(f"completion/complete {ref['type']}", "completion/complete", valid, slots)


def _uri_target(method: str, uris: SearchStrategy[str]) -> Target:
    return Target(method, method, st.fixed_dictionaries({"uri": uris}), (Slot(("uri",), STRING),))


def _no_params(method: str) -> Target:
    return Target(method, method, st.just({}))


TARGETS: tuple[Target, ...] = (
    Target(
        "initialize",
        "initialize",
        st.fixed_dictionaries(
            {
                "protocolVersion": st.sampled_from(VERSIONS),
                "capabilities": st.sampled_from([{}, {"roots": {"listChanged": True}}]),
                "clientInfo": st.fixed_dictionaries({"name": short_text, "version": short_text}),
            }
        ),
        (
            Slot(("protocolVersion",), STRING, required=False),
            Slot(("capabilities",), OBJECT, required=False),
            Slot(("clientInfo",), OBJECT, required=False),
        ),
    ),
    _no_params("ping"),
    _no_params("tools/list"),
    _no_params("resources/list"),
    _no_params("resources/templates/list"),
    _no_params("prompts/list"),
    *(_tool_target(name, arguments) for name, arguments in TOOLS.items()),
    _uri_target("resources/read", st.sampled_from(RESOURCES) | template_uris),
    _uri_target("resources/subscribe", short_text),
    _uri_target("resources/unsubscribe", short_text),
    *(_prompt_target(name, required) for name, required in PROMPTS.items()),
    Target(
        "logging/setLevel",
        "logging/setLevel",
        st.fixed_dictionaries({"level": st.sampled_from(LOG_LEVELS)}),
        (Slot(("level",), STRING, enum=LOG_LEVELS),),
    ),
    _completion_target({"type": "ref/prompt", "name": "test_prompt_with_arguments"}, "name"),
    _completion_target({"type": "ref/resource", "uri": "test://template/{id}/data"}, "uri"),
)
METHODS = tuple(sorted({target.method for target in TARGETS}))
NOTIFICATIONS = (
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/roots/list_changed",
    "notifications/message",
)
# Server->client requests a client may answer (it answers with a JSON-RPC response).
SERVER_REQUEST_TOOLS = {
    "sample": {"prompt": "p", "nonce": "n"},
    "test_sampling": {"prompt": "p"},
    "test_elicitation": {"message": "m"},
    "test_elicitation_sep1034_defaults": {},
    "test_elicitation_sep1330_enums": {},
    "test_input_required_result_elicitation": {},
    "test_input_required_result_sampling": {},
    "test_input_required_result_request_state": {},
}


def _set(params: JsonDict, path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        params = params.setdefault(key, {})
    params[path[-1]] = value


def _delete(params: JsonDict, path: tuple[str, ...]) -> None:
    for key in path[:-1]:
        params = params[key]
    params.pop(path[-1], None)


@st.composite
def mistyped_calls(draw: st.DrawFn) -> Call:
    """Valid params of a target with one slot made wrong: a wrong type, or missing when it is
    required. The server must answer -32602 invalid params."""
    target = draw(st.sampled_from([t for t in TARGETS if t.slots]))
    slot = draw(st.sampled_from(target.slots))
    params = json.loads(json.dumps(draw(target.valid)))
    where = ".".join(slot.path)
    if slot.required and draw(st.booleans()):
        _delete(params, slot.path)
        wrong = f"{where} missing"
    else:
        _set(params, slot.path, draw(slot.wrong()))
        wrong = f"{where} not {' or '.join(slot.enum or slot.accepts)}"
    return Call(target.label, target.method, params, wrong)


@st.composite
def valid_calls(draw: st.DrawFn) -> Call:
    target = draw(st.sampled_from(TARGETS))
    return Call(target.label, target.method, draw(target.valid))


# --- whole messages ------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """A JSON value to POST and what kind of message a correct server takes it for."""

    value: Any
    kind: str  # "request", "notification", "response" or "invalid"

    @property
    def id(self) -> Any:
        return self.value.get("id") if isinstance(self.value, dict) else None


def _params(draw: st.DrawFn, method: str) -> JsonDict | None:
    targets = [t for t in TARGETS if t.method == method]
    choice = draw(st.sampled_from(["none", "object", "valid"] if targets else ["none", "object"]))
    if choice == "none":
        return None
    if choice == "object":
        return draw(json_objects)
    params = dict(draw(draw(st.sampled_from(targets)).valid))
    # A few extra members: servers must ignore what they do not know.
    params.update(draw(st.dictionaries(st.text(min_size=1, max_size=6), json_values, max_size=2)))
    return params


invalid_ids = st.one_of(
    st.none(), st.booleans(), KINDS["fraction"], KINDS["array"], KINDS["object"]
)
any_method = st.sampled_from(METHODS + NOTIFICATIONS) | st.text(max_size=20)


@st.composite
def messages(draw: st.DrawFn) -> Message:
    kind = draw(st.sampled_from(["request", "notification", "response", "invalid"]))
    method = draw(any_method)
    if kind == "response":
        answer: JsonDict = {"jsonrpc": "2.0", "id": draw(ids)}
        if draw(st.booleans()):
            answer["result"] = draw(json_values)
        else:
            answer["error"] = {"code": draw(st.integers()), "message": draw(short_text)}
            if draw(st.booleans()):
                answer["error"]["data"] = draw(json_values)
        return Message(answer, kind)
    message: JsonDict = {"jsonrpc": "2.0", "method": method}
    params = _params(draw, method)
    if params is not None:
        message["params"] = params
    if kind == "request":
        message["id"] = draw(ids)
        return Message(message, kind)
    if kind == "notification":
        return Message(message, kind)
    message["id"] = draw(ids)
    return Message(draw(_broken(message)), "invalid")


def _broken(message: JsonDict) -> SearchStrategy[Any]:
    """``message`` made an invalid JSON-RPC message, one way or another."""

    def with_member(name: str, values: SearchStrategy[Any]) -> SearchStrategy[Any]:
        return values.map(lambda value: {**message, name: value})

    def without(name: str) -> JsonDict:
        return {key: value for key, value in message.items() if key != name}

    not_two = json_values.filter(lambda value: value != "2.0")
    both = {"jsonrpc": "2.0", "id": message["id"], "result": {}, "error": {"code": 1}}
    return st.one_of(
        with_member("jsonrpc", not_two),
        st.just(without("jsonrpc")),
        with_member("method", json_values.filter(lambda value: not isinstance(value, str))),
        with_member("params", json_values.filter(lambda value: not isinstance(value, dict))),
        with_member("id", invalid_ids),
        st.just(both),
        st.just({"jsonrpc": "2.0", "id": message["id"]}),
        st.lists(st.just(message), max_size=3),  # a batch
        scalars,
        st.lists(json_values, max_size=3),
    )


def valid_answer_error() -> SearchStrategy[JsonDict]:
    return st.fixed_dictionaries(
        {"code": st.integers(), "message": short_text},
        optional={"data": json_values},
    )


@st.composite
def answers(draw: st.DrawFn, request_id: Any) -> JsonDict:
    """What a client might POST back to a server->client request ``request_id``: the right
    id or another, a result or an error of any shape, or both, or neither."""
    answer: JsonDict = {"jsonrpc": draw(st.just("2.0") | json_values)}
    answer_id = draw(st.just(request_id) | ids | invalid_ids | st.just(str(request_id) + "x"))
    if draw(st.integers(0, 9)):
        answer["id"] = answer_id
    shape = draw(st.sampled_from(["result", "error", "both", "neither"]))
    if shape in ("result", "both"):
        sampled = {"role": "assistant", "content": {"type": "text", "text": "hi"}, "model": "m"}
        answer["result"] = draw(st.just(sampled) | json_values)
    if shape in ("error", "both"):
        answer["error"] = draw(valid_answer_error() | json_values)
    return answer


def answer_is_valid(answer: JsonDict) -> bool:
    """Whether ``answer`` is a well-formed JSON-RPC response (a correct server takes it)."""
    if answer.get("jsonrpc") != "2.0" or not is_valid_id(answer.get("id", None)):
        return False
    if ("result" in answer) == ("error" in answer):
        return False
    error = answer.get("error", {"code": 0, "message": ""})
    return (
        isinstance(error, dict)
        and isinstance(error.get("code"), int)
        and not isinstance(error.get("code"), bool)
        and isinstance(error.get("message"), str)
    )


def is_valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


# --- hostile bodies --------------------------------------------------------------------------


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}


def _nested(depth: int, leaf: bytes = b"0") -> bytes:
    return b"[" * depth + leaf + b"]" * depth


def _in_params(payload: bytes) -> bytes:
    """A valid tools/call whose arguments carry ``payload`` in a member no tool reads."""
    head = b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo",'
    return head + b'"arguments":{"text":"t","extra":' + payload + b"}}}"


# The depth a server must take (far more than any MCP message needs), and one it must refuse
# (a recursive parser or serializer overflows its stack long before). In between, either.
DEPTH_TAKEN = 32
DEPTH_REFUSED = 4000


@dataclass(frozen=True)
class Body:
    """Raw bytes to POST and the statuses a correct server may answer with."""

    family: str
    data: bytes
    statuses: frozenset[int]
    codes: frozenset[int] = frozenset()  # JSON-RPC error codes allowed in a 4xx body

    def __repr__(self) -> str:
        data = self.data if len(self.data) <= 120 else self.data[:60] + b"..." + self.data[-60:]
        return (
            f"Body({self.family!r}, {len(self.data)} bytes: {data!r}, "
            f"statuses={sorted(self.statuses)}, codes={sorted(self.codes)})"
        )


def _body(family: str, data: bytes, *statuses: int, codes: tuple[int, ...] = ()) -> Body:
    return Body(family, data, frozenset(statuses), frozenset(codes))


@st.composite
def hostile_bodies(draw: st.DrawFn, max_body: int) -> Body:
    family = draw(
        st.sampled_from(
            [
                "truncated",
                "binary",
                "non-json",
                "bom",
                "too-deep",
                "deep-inside",
                "deep-but-fine",
                "deep-either",
                "batch",
                "huge-array",
                "oversize",
                "not-an-object",
            ]
        )
    )
    parse = (400,), (PARSE_ERROR,)
    if family == "truncated":
        data = _dumps(draw(messages()).value) if draw(st.booleans()) else _dumps(PING)
        data = data if data.startswith(b"{") else _dumps(PING)
        return _body(family, data[: draw(st.integers(0, len(data) - 1))], *parse[0], codes=parse[1])
    if family == "binary":
        data = draw(st.binary(min_size=1, max_size=200))
        return _body(family, data, 400, codes=(PARSE_ERROR, INVALID_REQUEST))
    if family == "non-json":
        text = draw(
            st.sampled_from(
                [
                    b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":NaN}}',
                    b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":-Infinity}}',
                    b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\\ud800"}}',
                    b'{"jsonrpc":"2.0","id":"\\udfff","method":"ping"}',
                    b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":1e999}}',
                    '{"jsonrpc":"2.0","id":1,"method":"ping"}'.encode("utf-16"),
                    b'{"jsonrpc":"2.0","id":1,"method":"ping"} {}',
                    b'{"jsonrpc":"2.0","id":1,"method":"ping",}',
                    b"{'jsonrpc':'2.0','id':1,'method':'ping'}",
                    b'{"jsonrpc":"2.0","id":1,"method":"p\xc3\x28"}',
                    b'{"jsonrpc":"2.0","id":1,"method":"ping"}\x00',
                ]
            )
        )
        return _body(family, text, *parse[0], codes=parse[1])
    if family == "bom":  # RFC 8259: a parser may ignore a byte order mark, or refuse it
        return _body(family, b"\xef\xbb\xbf" + _dumps(PING), 200, 400, codes=(PARSE_ERROR,))
    if family == "too-deep":
        depth = draw(st.integers(DEPTH_REFUSED, 3 * DEPTH_REFUSED))
        return _body(family, _nested(depth), *parse[0], codes=parse[1])
    if family == "deep-inside":
        depth = draw(st.integers(DEPTH_REFUSED, 2 * DEPTH_REFUSED))
        leaf = draw(st.sampled_from([b"0", b'{"a":0}', b'"x"']))
        return _body(family, _in_params(_nested(depth, leaf)), *parse[0], codes=parse[1])
    if family == "deep-but-fine":
        return _body(family, _in_params(_nested(draw(st.integers(1, DEPTH_TAKEN)))), 200)
    if family == "deep-either":
        depth = draw(st.integers(DEPTH_TAKEN, DEPTH_REFUSED))
        return _body(family, _in_params(_nested(depth)), 200, 400, codes=parse[1])
    if family == "batch":
        count = draw(st.integers(0, 5000))
        one = draw(st.sampled_from([PING, {"jsonrpc": "2.0", "method": "ping"}]))
        data = b"[" + b",".join([_dumps(one)] * count) + b"]"
        return _body(family, data, 400, 413, codes=(INVALID_REQUEST,))
    if family == "huge-array":
        count = draw(st.integers(1, max_body // 4))
        item = draw(st.sampled_from([b"0", b"{}", b'"x"', b"[]", b"null"]))
        data = _in_params(b"[" + b",".join([item] * count) + b"]")
        return _body(family, data, *((200,) if len(data) <= max_body else (413,)))
    if family == "oversize":
        extra = draw(st.integers(1, 2 * max_body))
        data = _in_params(b'"' + b"x" * (max_body + extra) + b'"')
        return _body(family, data, 413, codes=(INVALID_REQUEST,))
    value = draw(scalars | st.lists(json_values, max_size=3))
    return _body(family, _dumps(value), 400, codes=(INVALID_REQUEST,))


# --- hostile headers -------------------------------------------------------------------------

# Header values the HTTP client can send: visible latin-1 bytes, spaces and tabs inside.
_VISIBLE = [b for b in range(0x21, 0x100) if b != 0x7F]
header_bytes = st.lists(st.sampled_from([*_VISIBLE, 0x20, 0x09]), max_size=40).map(
    lambda values: bytes(values).strip(b" \t")
)
# Control characters and the like too: only a raw socket sends these.
raw_header_bytes = st.binary(max_size=40).filter(lambda value: b"\r" not in value)

VALID_SESSION = "<the session's id>"
session_ids = st.one_of(
    st.just(VALID_SESSION),
    st.none(),
    st.just(b""),
    st.text(alphabet="0123456789abcdef", min_size=32, max_size=32).map(str.encode),
    header_bytes,
    st.integers(100, 6000).map(lambda size: b"a" * size),
)
versions = st.one_of(
    st.none(),
    st.sampled_from(VERSIONS).map(str.encode),
    st.sampled_from([b"2024-11-05", b"2026-07-28", b"garbage", b"", b"2025-11-25,2025-06-18"]),
    header_bytes,
)
origins = st.one_of(
    st.none(),
    st.sampled_from(
        [
            b"http://localhost",
            b"http://localhost:3000",
            b"http://127.0.0.1:8000",
            b"http://[::1]:9",
            b"https://LOCALHOST",
            b"http://evil.example",
            b"http://localhost.evil.example",
            b"null",
            b"http://[",
            b"http://[::1",
            b"http://a]b",
            b"//localhost",
            b"localhost",
            b"http://127.0.0.1:99999",
            b"file://",
            b"",
        ]
    ),
    header_bytes,
)
event_ids = st.one_of(
    st.none(),
    st.sampled_from([b"0-0", b"1-0", b"-1-0", b"1-", b"\xb2-0", b"\xb9\xb2-\xb3"]),
    st.tuples(st.integers(0, 2**70), st.integers(0, 2**70)).map(
        lambda pair: f"{pair[0]}-{pair[1]}".encode()
    ),
    st.integers(1, 400).map(lambda size: b"9" * size + b"-0"),
    header_bytes,
)
_MEDIA = [
    "application/json",
    "text/event-stream",
    "*/*",
    "application/*",
    "text/*",
    "text/html",
    "text/plain",
    "application/jsonl",
    "application/json-seq",
    "text/event-streams",
    "image/png",
    "garbage",
    "",
]
_MEDIA_PARAMS = ["", ";q=0.5", "; charset=utf-8", ";q=1", ";level=1"]


@st.composite
def accepts(draw: st.DrawFn) -> bytes | None:
    if not draw(st.integers(0, 9)):
        return None
    ranges = draw(
        st.lists(st.tuples(st.sampled_from(_MEDIA), st.sampled_from(_MEDIA_PARAMS)), max_size=4)
    )
    parts = [media + params for media, params in ranges]
    if draw(st.booleans()):
        parts = [part.upper() if draw(st.booleans()) else part for part in parts]
    return ", ".join(parts).strip().encode()


content_types = st.one_of(
    st.none(),
    st.sampled_from(
        [
            b"application/json",
            b"application/json; charset=utf-8",
            b"APPLICATION/JSON",
            b"Application/Json;charset=UTF-8",
            b"application/json ;x=1",
            b"text/plain",
            b"application/jsonx",
            b"application/json-rpc",
            b"application/x-www-form-urlencoded",
            b"multipart/form-data; boundary=x",
            b"json",
            b"",
        ]
    ),
    header_bytes,
)


def media_types(accept: bytes | None) -> set[str]:
    if accept is None:
        return set()
    text = accept.decode("latin-1")
    return {part.split(";")[0].strip().lower() for part in text.split(",")}


def accepts_json(types: set[str]) -> bool:
    return bool(types & {"application/json", "application/*", "*/*"})


def accepts_sse(types: set[str]) -> bool:
    return bool(types & {"text/event-stream", "text/*", "*/*"})


def origin_allowed(origin: bytes | None) -> bool:
    """The rule a local MCP server applies (DNS rebinding): only loopback origins."""
    if origin is None:
        return True
    try:
        host = urlsplit(origin.decode("latin-1")).hostname
    except ValueError:
        return False
    return host in ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Headers:
    session: str | bytes | None
    version: bytes | None
    origin: bytes | None
    last_event_id: bytes | None
    accept: bytes | None
    content_type: bytes | None

    def build(self, valid_session: str) -> dict[str, bytes]:
        session = valid_session.encode() if self.session == VALID_SESSION else self.session
        values = {
            "mcp-session-id": session,
            "mcp-protocol-version": self.version,
            "origin": self.origin,
            "last-event-id": self.last_event_id,
            "accept": self.accept,
            "content-type": self.content_type,
        }
        return {name: value for name, value in values.items() if isinstance(value, bytes)}

    def session_statuses(self) -> set[int]:
        """What a stateful request with these session headers may fail with."""
        statuses: set[int] = set()
        if self.session is None or self.session == b"":
            statuses.add(400)
        elif self.session != VALID_SESSION:
            statuses.add(404)
        if self.version is not None and self.version.decode("latin-1") not in VERSIONS:
            statuses.add(400)
        return statuses


header_sets = st.builds(
    Headers,
    session=session_ids,
    version=versions,
    origin=origins,
    last_event_id=event_ids,
    accept=accepts(),
    content_type=content_types,
)
