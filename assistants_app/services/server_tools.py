"""Tools the service runs itself inside a turn (file_search): the model sees each as a function tool; when
it calls one, the turn pipeline (turns.py) runs it, feeds the result back and asks the provider again,
within the same turn -- no requires_action. An API says which it offers in TurnInput.server_tools:

    TurnInput(..., server_tools={"file_search": ServerTool(definition, run)})

``run(arguments)`` answers a ServerToolResult: ``output``, the text the model reads, and ``details``, what
the API shows of the call (v2: a file_search run step; Responses: a file_search_call item). The calls and
their results are recorded with the turn, between its input and its reply, like any tool round."""
import json
from dataclasses import dataclass, field
from typing import Callable

from ..openai_adapter import ChatMessage, ToolCall, TurnDone

# A turn asks the provider at most this many times: a model that keeps calling tools ends there.
MAX_ROUNDS = 8


@dataclass(frozen=True)
class ServerToolResult:
    output: str
    details: dict = field(default_factory=dict)
    columns: dict = field(default_factory=dict)  # more columns of the answer's row (a conversation's item)


@dataclass(frozen=True)
class ServerTool:
    definition: dict  # the function tool the model sees: {"type": "function", "function": {...}}
    run: Callable[[str], ServerToolResult]


@dataclass(frozen=True)
class ServerToolCalled:
    """The event of a server tool's call, once it ran (after the provider's round that asked for it)."""

    call: ToolCall
    result: ServerToolResult


@dataclass
class Served:
    """A round's server calls, answered: the events, what the record keeps (the assistant message with the
    round's calls, then a tool message per server call, with its details), the messages that continue the
    conversation, and the calls left for the client (a round may mix both kinds)."""

    events: list[ServerToolCalled]
    recorded: list[tuple[ChatMessage, dict]]
    tool_messages: list[ChatMessage]
    client_calls: list[ToolCall]


def serve(done: TurnDone, tools: dict[str, ServerTool]) -> Served | None:
    """Run the server tools ``done`` called; None when it called none."""
    ours = [call for call in done.tool_calls if call.name in tools]
    if not ours:
        return None
    asked = ChatMessage(role="assistant", content=done.text or None,
                        tool_calls=[{"id": c.id, "name": c.name, "arguments": c.arguments}
                                    for c in done.tool_calls])
    # The asking row names the calls the service answered (a conversation shows them as its own items).
    events, recorded, answers = [], [(asked, {"item": {"served": [call.id for call in ours]}})], []
    for call in ours:
        result = _run(tools[call.name], call)
        events.append(ServerToolCalled(call, result))
        answer = ChatMessage(role="tool", content=result.output, tool_call_id=call.id)
        answers.append(answer)
        recorded.append((answer, {"metadata": {"server_tool": call.name, "details": result.details},
                                  **result.columns}))
    return Served(events, recorded, answers, [call for call in done.tool_calls if call.name not in tools])


def _run(tool: ServerTool, call: ToolCall) -> ServerToolResult:
    """A call the model made with arguments that are not the tool's JSON gets an error to read, as a
    function's would: the model may try again."""
    try:
        json.loads(call.arguments or "{}")
    except ValueError:
        return ServerToolResult(f"Error: the arguments of {call.name} must be a JSON object.")
    return tool.run(call.arguments or "{}")
