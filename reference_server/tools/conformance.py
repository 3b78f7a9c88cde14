"""The test tools, resources, prompts and completions of the official MCP conformance suite.

The suite (npm ``@modelcontextprotocol/conformance``, pinned in scripts/install_conformance.sh)
names, in each server scenario's description, what a server under test must offer:
``test_simple_text``, ``test_sampling``, ``test://static-text``, ``test_simple_prompt``...
This module adds exactly those to a catalog, with the answers the scenarios check. Names,
argument shapes and texts follow the scenarios and the suite's own everything-server.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import struct

from reference_server.protocol import (
    INVALID_PARAMS,
    MISSING_CLIENT_CAPABILITY,
    JsonDict,
    RpcError,
    log_level_allows,
    notification,
)
from reference_server.subscriptions.base import Change
from reference_server.tools.base import (
    Catalog,
    ClientLacksCapability,
    Prompt,
    Resource,
    ResourceTemplate,
    Tool,
    ToolContext,
    gather_input,
    optional,
    require,
    text_result,
)

# A 1x1 red pixel PNG.
PNG_BASE64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5E"
    "rkJggg=="
)


def _silent_wav(samples: int = 8, rate: int = 8000) -> bytes:
    """A valid mono 16-bit PCM WAV file of ``samples`` silent samples."""
    data = b"\x00\x00" * samples
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


WAV_BASE64 = base64.b64encode(_silent_wav()).decode("ascii")

# Pauses between the notifications of the logging and progress tools (the suite asks ~50 ms).
STEP_DELAY = 0.05
LOGGER = "conformance"

NO_ARGUMENTS: JsonDict = {"type": "object", "properties": {}}


def _string_arguments(**descriptions: str) -> JsonDict:
    return {
        "type": "object",
        "properties": {
            name: {"type": "string", "description": text} for name, text in descriptions.items()
        },
        "required": list(descriptions),
    }


# ---------------------------------------------------------------------------------------------
# Tools with a fixed answer


async def simple_text(args: JsonDict, ctx: ToolContext) -> JsonDict:
    return text_result("This is a simple text response for testing.")


async def image_content(args: JsonDict, ctx: ToolContext) -> JsonDict:
    return {"content": [{"type": "image", "data": PNG_BASE64, "mimeType": "image/png"}]}


async def audio_content(args: JsonDict, ctx: ToolContext) -> JsonDict:
    return {"content": [{"type": "audio", "data": WAV_BASE64, "mimeType": "audio/wav"}]}


async def embedded_resource(args: JsonDict, ctx: ToolContext) -> JsonDict:
    resource = {
        "uri": "test://embedded-resource",
        "mimeType": "text/plain",
        "text": "This is an embedded resource content.",
    }
    return {"content": [{"type": "resource", "resource": resource}]}


async def multiple_content_types(args: JsonDict, ctx: ToolContext) -> JsonDict:
    resource = {
        "uri": "test://mixed-content-resource",
        "mimeType": "application/json",
        "text": json.dumps({"test": "data", "value": 123}, separators=(",", ":")),
    }
    return {
        "content": [
            {"type": "text", "text": "Multiple content types test:"},
            {"type": "image", "data": PNG_BASE64, "mimeType": "image/png"},
            {"type": "resource", "resource": resource},
        ]
    }


async def error_handling(args: JsonDict, ctx: ToolContext) -> JsonDict:
    # A tool execution error is a result with isError, not a JSON-RPC error.
    return text_result("This tool intentionally returns an error for testing", is_error=True)


async def json_schema_2020_12(args: JsonDict, ctx: ToolContext) -> JsonDict:
    # The arguments its schema allows (additionalProperties: false), of the types it says.
    unknown = sorted(set(args) - {"name", "address"})
    if unknown:
        raise RpcError(INVALID_PARAMS, f"unknown arguments: {', '.join(unknown)}")
    optional(args, "name", str, None)
    address = optional(args, "address", dict, {})
    for field in ("street", "city"):
        optional(address, field, str, None)
    return text_result(
        f"JSON Schema 2020-12 tool called with: {json.dumps(args, separators=(',', ':'))}"
    )


JSON_SCHEMA_2020_12_INPUT: JsonDict = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
    "additionalProperties": False,
}


# ---------------------------------------------------------------------------------------------
# Tools that send notifications related to their call


async def tool_with_logging(args: JsonDict, ctx: ToolContext) -> JsonDict:
    level = ctx.log_level
    steps = ("Tool execution started", "Tool processing data", "Tool execution completed")
    for index, text in enumerate(steps):
        if index:
            await asyncio.sleep(STEP_DELAY)
        if level is not None and log_level_allows("info", level):
            params = {"level": "info", "logger": LOGGER, "data": text}
            await ctx.send_related(notification("notifications/message", params))
    return text_result("Tool with logging executed successfully")


async def tool_with_progress(args: JsonDict, ctx: ToolContext) -> JsonDict:
    token = ctx.progress_token
    for index, progress in enumerate((0, 50, 100)):
        if index:
            await asyncio.sleep(STEP_DELAY)
        if token is not None:
            params = {
                "progressToken": token,
                "progress": progress,
                "total": 100,
                "message": f"Completed step {progress} of 100",
            }
            await ctx.send_related(notification("notifications/progress", params))
    return text_result(f"Progress reported with token {json.dumps(token)}")


# ---------------------------------------------------------------------------------------------
# Tools that ask the client (server->client requests)


def _client_lacks(ctx: ToolContext, capability: str) -> bool:
    """True, in a 2025 session, when its client did not declare ``capability`` (2026-07-28
    answers a missing capability with -32021, from gather_input)."""
    return (
        ctx.input_round is None
        and ctx.capabilities is not None
        and capability not in ctx.capabilities
    )


async def _ask(ctx: ToolContext, method: str, params: JsonDict) -> JsonDict | str:
    """The client's result, or the text of why there is none."""
    if ctx.input_round is not None:
        answers = await gather_input(ctx, {"input": {"method": method, "params": params}})
        answer: JsonDict = answers["input"]
        return answer
    try:
        return await ctx.ask_client(method, params)
    except RpcError as error:
        return f"the client answered {method} with error {error.code}: {error.message}"
    except TimeoutError:
        return f"the client did not answer {method} in time"


def _sampled_text(result: JsonDict) -> str:
    content = result.get("content")
    blocks = content if isinstance(content, list) else [content]
    texts = [
        block["text"]
        for block in blocks
        if isinstance(block, dict) and isinstance(block.get("text"), str)
    ]
    return "".join(texts) if texts else "No response"


async def sampling(args: JsonDict, ctx: ToolContext) -> JsonDict:
    prompt = require(args, "prompt", str)
    if _client_lacks(ctx, "sampling"):
        return text_result("The client does not support sampling", is_error=True)
    params: JsonDict = {
        "messages": [{"role": "user", "content": {"type": "text", "text": prompt}}],
        "maxTokens": 100,
    }
    result = await _ask(ctx, "sampling/createMessage", params)
    if isinstance(result, str):
        return text_result(f"Sampling failed: {result}", is_error=True)
    return text_result(f"LLM response: {_sampled_text(result)}")


async def _elicit(ctx: ToolContext, message: str, schema: JsonDict, prefix: str) -> JsonDict:
    if _client_lacks(ctx, "elicitation"):
        return text_result("The client does not support elicitation", is_error=True)
    params: JsonDict = {"message": message, "requestedSchema": schema}
    result = await _ask(ctx, "elicitation/create", params)
    if isinstance(result, str):
        return text_result(f"Elicitation failed: {result}", is_error=True)
    content = json.dumps(result.get("content") or {}, separators=(",", ":"))
    return text_result(f"{prefix}: action={result.get('action')}, content={content}")


ELICITATION_SCHEMA: JsonDict = {
    "type": "object",
    "properties": {
        "username": {"type": "string", "description": "User's response"},
        "email": {"type": "string", "description": "User's email address"},
    },
    "required": ["username", "email"],
}


async def elicitation(args: JsonDict, ctx: ToolContext) -> JsonDict:
    message = require(args, "message", str)
    return await _elicit(ctx, message, ELICITATION_SCHEMA, "User response")


# SEP-1034: a default for every primitive type.
DEFAULTS_SCHEMA: JsonDict = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "User name", "default": "John Doe"},
        "age": {"type": "integer", "description": "User age", "default": 30},
        "score": {"type": "number", "description": "User score", "default": 95.5},
        "status": {
            "type": "string",
            "description": "User status",
            "enum": ["active", "inactive", "pending"],
            "default": "active",
        },
        "verified": {"type": "boolean", "description": "Verification status", "default": True},
    },
    "required": [],
}


async def elicitation_defaults(args: JsonDict, ctx: ToolContext) -> JsonDict:
    message = "Please review and update the form fields with defaults"
    return await _elicit(ctx, message, DEFAULTS_SCHEMA, "Elicitation completed")


def _titled(prefix: str, *titles: str) -> list[JsonDict]:
    return [
        {"const": f"{prefix}{index}", "title": title} for index, title in enumerate(titles, start=1)
    ]


# SEP-1330: the five enum variants.
ENUMS_SCHEMA: JsonDict = {
    "type": "object",
    "properties": {
        "untitledSingle": {
            "type": "string",
            "description": "Select one option",
            "enum": ["option1", "option2", "option3"],
        },
        "titledSingle": {
            "type": "string",
            "description": "Select one option with titles",
            "oneOf": _titled("value", "First Option", "Second Option", "Third Option"),
        },
        "legacyEnum": {
            "type": "string",
            "description": "Select one option (legacy)",
            "enum": ["opt1", "opt2", "opt3"],
            "enumNames": ["Option One", "Option Two", "Option Three"],
        },
        "untitledMulti": {
            "type": "array",
            "description": "Select multiple options",
            "minItems": 1,
            "maxItems": 3,
            "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
        },
        "titledMulti": {
            "type": "array",
            "description": "Select multiple options with titles",
            "minItems": 1,
            "maxItems": 3,
            "items": {"anyOf": _titled("value", "First Choice", "Second Choice", "Third Choice")},
        },
    },
    "required": [],
}


async def elicitation_enums(args: JsonDict, ctx: ToolContext) -> JsonDict:
    message = "Please select options from the enum fields"
    return await _elicit(ctx, message, ENUMS_SCHEMA, "Elicitation completed")


# ---------------------------------------------------------------------------------------------
# Multi round-trip requests (2026-07-28, input-required-result-* scenarios): each asks through
# gather_input, so in a 2025 session the same tool asks with server->client requests instead.


def _elicit_request(message: str, field: str, kind: str = "string") -> JsonDict:
    schema = {"type": "object", "properties": {field: {"type": kind}}, "required": [field]}
    return {
        "method": "elicitation/create",
        "params": {"mode": "form", "message": message, "requestedSchema": schema},
    }


def _sampling_request(text: str, max_tokens: int) -> JsonDict:
    return {
        "method": "sampling/createMessage",
        "params": {
            "messages": [{"role": "user", "content": {"type": "text", "text": text}}],
            "maxTokens": max_tokens,
        },
    }


ROOTS_REQUEST: JsonDict = {"method": "roots/list", "params": {}}


def _content(answer: JsonDict, field: str) -> str:
    content = answer.get("content")
    value = content.get(field) if isinstance(content, dict) else None
    return json.dumps(value) if value is not None and not isinstance(value, str) else value or ""


def _roots(answer: JsonDict) -> str:
    roots = answer.get("roots")
    uris = [r.get("uri") for r in roots if isinstance(r, dict)] if isinstance(roots, list) else []
    return ", ".join(str(uri) for uri in uris) or "no roots"


async def mrtr_elicitation(args: JsonDict, ctx: ToolContext) -> JsonDict:
    # Stateless: the answer depends only on inputResponses, so no requestState is needed to
    # finish (input-required-result-ignore-extra-params retries without one).
    request = {"user_name": _elicit_request("What is your name?", "name")}
    answers = await gather_input(ctx, request)
    return text_result(f"Hello, {_content(answers['user_name'], 'name')}!")


async def mrtr_sampling(args: JsonDict, ctx: ToolContext) -> JsonDict:
    request = {"capital_question": _sampling_request("What is the capital of France?", 100)}
    answers = await gather_input(ctx, request)
    return text_result(f"LLM response: {_sampled_text(answers['capital_question'])}")


async def mrtr_list_roots(args: JsonDict, ctx: ToolContext) -> JsonDict:
    answers = await gather_input(ctx, {"client_roots": ROOTS_REQUEST})
    return text_result(f"Client roots: {_roots(answers['client_roots'])}")


async def mrtr_request_state(args: JsonDict, ctx: ToolContext) -> JsonDict:
    request = {"confirm": _elicit_request("Please confirm", "ok", "boolean")}
    answers = await gather_input(ctx, request, {"asked": "confirm"}, needs_state=True)
    return text_result(f"state-ok: confirmed={_content(answers['confirm'], 'ok')}")


async def mrtr_tampered_state(args: JsonDict, ctx: ToolContext) -> JsonDict:
    request = {"confirm": _elicit_request("Please confirm", "ok", "boolean")}
    await gather_input(ctx, request, {"asked": "confirm"}, needs_state=True)
    return text_result("state-ok: the requestState verified")


async def mrtr_multiple_inputs(args: JsonDict, ctx: ToolContext) -> JsonDict:
    requests = {
        "user_name": _elicit_request("What is your name?", "name"),
        "greeting": _sampling_request("Generate a greeting", 50),
        "client_roots": ROOTS_REQUEST,
    }
    answers = await gather_input(ctx, requests, {"asked": "all"}, needs_state=True)
    name = _content(answers["user_name"], "name")
    greeting = _sampled_text(answers["greeting"])
    return text_result(f"{greeting} {name} (roots: {_roots(answers['client_roots'])})")


async def mrtr_multi_round(args: JsonDict, ctx: ToolContext) -> JsonDict:
    """Two rounds of input: the second round's state carries what the first brought."""
    step1 = {"step1": _elicit_request("Step 1: What is your name?", "name")}
    step2 = {"step2": _elicit_request("Step 2: What is your favorite color?", "color")}
    state = ctx.input_round.state if ctx.input_round is not None else None
    if state is not None and state.get("asked") == "step2":
        name = str(state.get("name", ""))
    else:
        answers = await gather_input(ctx, step1, {"asked": "step1"}, needs_state=True)
        name = _content(answers["step1"], "name")
    answers = await gather_input(ctx, step2, {"asked": "step2", "name": name}, needs_state=True)
    return text_result(f"{name} likes {_content(answers['step2'], 'color')}")


async def mrtr_capabilities(args: JsonDict, ctx: ToolContext) -> JsonDict:
    """Asks only for what the client declared (mrtr.mdx: MUST NOT ask for the others)."""
    declared = ctx.capabilities or {}
    wanted = {
        "user_name": ("elicitation", _elicit_request("What is your name?", "name")),
        "greeting": ("sampling", _sampling_request("Generate a greeting", 50)),
        "client_roots": ("roots", ROOTS_REQUEST),
    }
    requests = {key: request for key, (needs, request) in wanted.items() if needs in declared}
    if not requests:
        return text_result("the client declared no capability to ask it anything")
    answers = await gather_input(ctx, requests, {"asked": sorted(requests)}, needs_state=True)
    return text_result(f"answered: {', '.join(sorted(answers))}")


async def missing_capability(args: JsonDict, ctx: ToolContext) -> JsonDict:
    """Needs sampling: without it declared the call fails with -32021 (server-stateless); in a
    2025 session, which has no such error, with a tool error result."""
    if ctx.capabilities is not None and "sampling" not in ctx.capabilities:
        text = "test_missing_capability needs the client capability sampling"
        if ctx.input_round is None:
            raise ClientLacksCapability(text)
        raise RpcError(MISSING_CLIENT_CAPABILITY, text, {"requiredCapabilities": {"sampling": {}}})
    return text_result("the client declared sampling")


async def streaming_elicitation(args: JsonDict, ctx: ToolContext) -> JsonDict:
    request = {"user_name": _elicit_request("What is your name?", "name")}
    answers = await gather_input(ctx, request)
    return text_result(f"Hello, {_content(answers['user_name'], 'name')}!")


async def trigger_tool_change(args: JsonDict, ctx: ToolContext) -> JsonDict:
    """server-stateless's hook: a tools list change, to every listen stream of the cluster."""
    if ctx.bus is not None:
        await ctx.bus.publish(Change.list_changed("tools"))
    return text_result("tools list change announced")


async def trigger_prompt_change(args: JsonDict, ctx: ToolContext) -> JsonDict:
    """server-stateless's hook: a prompts list change, to every listen stream of the cluster."""
    if ctx.bus is not None:
        await ctx.bus.publish(Change.list_changed("prompts"))
    return text_result("prompts list change announced")


PROMPT_CONTEXT_REQUEST: JsonDict = {
    "user_context": _elicit_request("What context should the prompt use?", "context")
}


def _prompt_with_context(arguments: dict[str, str]) -> list[JsonDict]:
    return [_text_message(f"Prompt with context: {arguments.get('context', 'none')}")]


# ---------------------------------------------------------------------------------------------
# Resources

TEMPLATE_URI = re.compile(r"^test://template/([^/]+)/data$")


def _template_read(uri: str) -> JsonDict:
    match = TEMPLATE_URI.match(uri)
    if match is None:
        raise RpcError(INVALID_PARAMS, f"{uri!r} does not match test://template/{{id}}/data")
    item_id = match.group(1)
    data = {"id": item_id, "templateTest": True, "data": f"Data for ID: {item_id}"}
    return {
        "uri": uri,
        "mimeType": "application/json",
        "text": json.dumps(data, separators=(",", ":")),
    }


# ---------------------------------------------------------------------------------------------
# Prompts


def _argument(arguments: dict[str, str], name: str) -> str:
    value = arguments.get(name)
    if not isinstance(value, str):
        raise RpcError(INVALID_PARAMS, f"prompt argument {name!r} is required")
    return value


def _text_message(text: str) -> JsonDict:
    return {"role": "user", "content": {"type": "text", "text": text}}


def _simple_prompt(arguments: dict[str, str]) -> list[JsonDict]:
    return [_text_message("This is a simple prompt for testing.")]


def _prompt_with_arguments(arguments: dict[str, str]) -> list[JsonDict]:
    arg1 = _argument(arguments, "arg1")
    arg2 = _argument(arguments, "arg2")
    return [_text_message(f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'")]


def _prompt_with_embedded_resource(arguments: dict[str, str]) -> list[JsonDict]:
    resource = {
        "uri": _argument(arguments, "resourceUri"),
        "mimeType": "text/plain",
        "text": "Embedded resource content for testing.",
    }
    return [
        {"role": "user", "content": {"type": "resource", "resource": resource}},
        _text_message("Please process the embedded resource above."),
    ]


def _prompt_with_image(arguments: dict[str, str]) -> list[JsonDict]:
    image = {"type": "image", "data": PNG_BASE64, "mimeType": "image/png"}
    return [{"role": "user", "content": image}, _text_message("Please analyze the image above.")]


def _prompt_argument(name: str, description: str) -> JsonDict:
    return {"name": name, "description": description, "required": True}


# ---------------------------------------------------------------------------------------------
# Completions

PROMPT_ARGS = ("arg1", "arg2")
PROMPT_CANDIDATES = ("paris", "park", "party", "test", "testValue1", "testValue2")
TEMPLATE_ID_CANDIDATES = ("1", "2", "3", "123")


def complete(ref: JsonDict, argument: str, partial: str) -> list[str]:
    """Candidates for the arguments of test_prompt_with_arguments and of the template."""
    candidates: tuple[str, ...] = ()
    kind, name, uri = ref.get("type"), ref.get("name"), ref.get("uri")
    if kind == "ref/prompt" and name == "test_prompt_with_arguments" and argument in PROMPT_ARGS:
        candidates = PROMPT_CANDIDATES
    elif kind == "ref/resource" and uri == "test://template/{id}/data" and argument == "id":
        candidates = TEMPLATE_ID_CANDIDATES
    return [value for value in candidates if value.startswith(partial)]


# ---------------------------------------------------------------------------------------------


def register(catalog: Catalog) -> None:
    """Adds every tool, resource, template, prompt and completer the suite asks for."""
    fixed = (
        ("test_simple_text", "Tests simple text content response", simple_text),
        ("test_image_content", "Tests image content response", image_content),
        ("test_audio_content", "Tests audio content response", audio_content),
        ("test_embedded_resource", "Tests embedded resource content response", embedded_resource),
        (
            "test_multiple_content_types",
            "Tests response with multiple content types (text, image, resource)",
            multiple_content_types,
        ),
        ("test_error_handling", "Tests error response handling", error_handling),
    )
    for name, description, handler in fixed:
        catalog.add_tool(Tool(name, description, NO_ARGUMENTS, handler))
    catalog.add_tool(
        Tool(
            "json_schema_2020_12_tool",
            "Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)",
            JSON_SCHEMA_2020_12_INPUT,
            json_schema_2020_12,
        )
    )

    streaming = (
        (
            "test_tool_with_logging",
            "Tests tool that emits log messages during execution",
            NO_ARGUMENTS,
            tool_with_logging,
        ),
        (
            "test_tool_with_progress",
            "Tests tool that reports progress notifications",
            NO_ARGUMENTS,
            tool_with_progress,
        ),
        (
            "test_sampling",
            "Tests server-initiated sampling (LLM completion request)",
            _string_arguments(prompt="The prompt to send to the LLM"),
            sampling,
        ),
        (
            "test_elicitation",
            "Tests server-initiated elicitation (user input request)",
            _string_arguments(message="The message to show the user"),
            elicitation,
        ),
        (
            "test_elicitation_sep1034_defaults",
            "Tests elicitation with default values per SEP-1034",
            NO_ARGUMENTS,
            elicitation_defaults,
        ),
        (
            "test_elicitation_sep1330_enums",
            "Tests elicitation with enum schema improvements per SEP-1330",
            NO_ARGUMENTS,
            elicitation_enums,
        ),
    )
    for name, description, schema, handler in streaming:
        catalog.add_tool(Tool(name, description, schema, handler, streams=True))
    # server-stateless calls the logging tool by this name.
    catalog.add_tool(
        Tool(
            "test_logging_tool",
            "Emits log messages only for a request that asked for a log level",
            NO_ARGUMENTS,
            tool_with_logging,
            streams=True,
        )
    )
    catalog.add_tool(
        Tool(
            "test_streaming_elicitation",
            "Asks for input on its response stream's final result, never with a request",
            NO_ARGUMENTS,
            streaming_elicitation,
            streams=True,
        )
    )

    mrtr = (
        ("test_input_required_result_elicitation", "Asks for a name", mrtr_elicitation),
        ("test_input_required_result_sampling", "Asks for a sampling", mrtr_sampling),
        ("test_input_required_result_list_roots", "Asks for the roots", mrtr_list_roots),
        (
            "test_input_required_result_request_state",
            "Asks for a confirmation with a requestState",
            mrtr_request_state,
        ),
        (
            "test_input_required_result_multiple_inputs",
            "Asks for an elicitation, a sampling and the roots at once",
            mrtr_multiple_inputs,
        ),
        ("test_input_required_result_multi_round", "Asks in two rounds", mrtr_multi_round),
        (
            "test_input_required_result_tampered_state",
            "Refuses a requestState it did not issue",
            mrtr_tampered_state,
        ),
        (
            "test_input_required_result_capabilities",
            "Asks only for what the client declared",
            mrtr_capabilities,
        ),
        (
            "test_missing_capability",
            "Needs the sampling client capability",
            missing_capability,
        ),
    )
    for name, description, handler in (
        ("test_trigger_tool_change", "Announces a tools list change", trigger_tool_change),
        ("test_trigger_prompt_change", "Announces a prompts list change", trigger_prompt_change),
    ):
        catalog.add_tool(Tool(name, description, NO_ARGUMENTS, handler))
    for name, description, handler in mrtr:
        # streams: in a 2025 session they ask with server->client requests on the call's
        # stream; in 2026-07-28 a round that sends nothing first is answered as plain JSON.
        asks = handler is not missing_capability
        catalog.add_tool(Tool(name, description, NO_ARGUMENTS, handler, streams=asks))

    catalog.add_resource(
        Resource(
            "test://static-text",
            "static-text",
            "text/plain",
            text="This is the content of the static text resource.",
            description="A static text resource for testing",
        )
    )
    catalog.add_resource(
        Resource(
            "test://static-binary",
            "static-binary",
            "image/png",
            blob=PNG_BASE64,
            description="A static binary resource (image) for testing",
        )
    )
    catalog.add_resource(
        Resource(
            "test://watched-resource",
            "watched-resource",
            "text/plain",
            text="Watched resource content",
            description="A resource to subscribe to",
        )
    )
    catalog.add_template(
        ResourceTemplate(
            "test://template/{id}/data",
            "template",
            "application/json",
            matches=lambda uri: TEMPLATE_URI.match(uri) is not None,
            read=_template_read,
            description="A resource template with parameter substitution",
        )
    )

    catalog.add_prompt(
        Prompt("test_simple_prompt", "A simple prompt without arguments", [], _simple_prompt)
    )
    catalog.add_prompt(
        Prompt(
            "test_prompt_with_arguments",
            "A prompt with required arguments",
            [
                _prompt_argument("arg1", "First test argument"),
                _prompt_argument("arg2", "Second test argument"),
            ],
            _prompt_with_arguments,
        )
    )
    catalog.add_prompt(
        Prompt(
            "test_prompt_with_embedded_resource",
            "A prompt that includes an embedded resource",
            [_prompt_argument("resourceUri", "URI of the resource to embed")],
            _prompt_with_embedded_resource,
        )
    )
    catalog.add_prompt(
        Prompt(
            "test_prompt_with_image",
            "A prompt that includes image content",
            [],
            _prompt_with_image,
        )
    )
    catalog.add_prompt(
        Prompt(
            "test_input_required_result_prompt",
            "A prompt that asks the user for its context (2026-07-28)",
            [],
            _prompt_with_context,
            elicit=PROMPT_CONTEXT_REQUEST,
        )
    )
    catalog.add_completer(complete)
