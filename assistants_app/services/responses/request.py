"""A Responses API request, planned: who answers (the assistant of `prompt`, or the service's default
provider with the request's model), which conversation or chain of responses it continues, its input
items (ids given, item_reference resolved) and the TurnInput the turn pipeline runs.

    plan = request.plan(fields)     # 400 / 404 for what cannot be; nothing written
    plan = request.plan(fields, kept)   # kept: a WebSocket connection's store:false responses, by id"""
import re
from dataclasses import dataclass, field
from functools import cache

from sqlalchemy import bindparam, func, literal_column, select
from sqlalchemy.orm import aliased

from ...errors import NotFound, ServiceError
from ...extensions import db
from ...models import Assistant, Message, Thread, new_token_id
from ...responses_models import Response
from .. import conversations, is_plausible_id, tenant
from ..assistants import find_assistant, function_tools
from ..turn_input import TurnInput
from . import file_search, items

MAX_CHAIN = 1000  # responses a previous_response_id chain may reach back
VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")


@dataclass
class Plan:
    assistant: Assistant
    turn: TurnInput
    input_items: list[dict]  # as given, each with its id: what GET .../input_items lists
    conversation: Thread | None = None
    previous: Response | None = None
    echo: dict = field(default_factory=dict)  # the request's settings, as the response object shows them
    # the file_search calls run, as they run (their details)
    searches: list[dict] = field(default_factory=list)
    context: list[dict] = field(default_factory=list)  # the previous_response_id chain's items, oldest first


class PreviousResponseNotFound(NotFound):
    openai_code, openai_param = "previous_response_not_found", "previous_response_id"


def invalid(param: str, message: str) -> ServiceError:
    return ServiceError(400, message, {"json": {param: [message]}})


def plan(fields: dict, kept: dict | None = None) -> Plan:
    if fields.get("conversation") and fields.get("previous_response_id"):
        raise invalid("previous_response_id", "Send conversation or previous_response_id, not both.")
    if fields.get("background") and fields.get("store") is False:
        raise invalid("background", "A background response is stored: background needs store true.")
    assistant, instructions = _who(fields)
    conversation = _conversation(fields.get("conversation"))
    previous, context = _chain(fields.get("previous_response_id"), kept or {})
    given = _with_ids(_input(fields.get("input")), context, conversation)
    if conversation is None:
        _check_outputs_answer_calls(context, given)
    messages, columns = items.as_messages(given)
    if not messages and not conversation:
        raise invalid("input", "The input is empty.")
    history, _ = items.as_messages(context)
    searches: list[dict] = []
    tools, server_tools, shown = _tools(fields, assistant, searches, _calls_before(context, conversation))
    turn = TurnInput(
        messages=[*history, *messages] if conversation is None else messages,
        message_columns=None if conversation is None else columns,
        model=fields.get("model") or assistant.model, instructions=instructions,
        temperature=fields.get("temperature"), top_p=fields.get("top_p"),
        max_tokens=fields.get("max_output_tokens"), tools=tools, options=_options(fields),
        truncation={"type": "auto"} if fields.get("truncation") == "auto" else None, local_history=True,
        server_tools=server_tools)
    echo = {name: fields.get(name) for name in ("instructions", "tools", "tool_choice", "text", "temperature",
                                                "top_p", "max_output_tokens", "max_tool_calls",
                                                "parallel_tool_calls",
                                                "truncation", "reasoning", "user", "safety_identifier",
                                                "prompt_cache_key", "service_tier", "top_logprobs", "prompt",
                                                "store", "include")}
    echo.update(instructions=instructions, model=turn.model, tools=shown)
    return Plan(assistant, turn, given, conversation, previous, echo, searches, context)


def _who(fields: dict) -> tuple[Assistant, str | None]:
    """The assistant of `prompt` (its instructions with the variables filled in), or a model of the
    service's default provider."""
    prompt = fields.get("prompt")
    if prompt:
        assistant = find_assistant(prompt["id"])
        if assistant is None:
            raise NotFound(f"No prompt (assistant) found with id '{prompt['id'][:128]}'.")
        variables = prompt.get("variables") or {}
        instructions = VARIABLE.sub(lambda m: _variable(variables, m), assistant.instructions or "") or None
        if fields.get("instructions") is not None:
            instructions = fields["instructions"]
        return assistant, instructions
    if not fields.get("model"):
        raise invalid("model", "Missing model: send model, or a prompt naming an assistant.")
    # The service's own provider, no stored assistant: this one is never added to the session.
    return Assistant(id="", tenant=tenant(), details={"model": fields["model"]}, credential=None,
                     chat_system_instruction_mode="system-message"), fields.get("instructions")


def _variable(variables: dict, match) -> str:
    value = variables.get(match.group(1), match.group(0))
    if isinstance(value, dict):  # an input_text part
        return str(value.get("text", ""))
    return str(value)


def _conversation(value) -> Thread | None:
    if not value:
        return None
    return conversations.get(value["id"] if isinstance(value, dict) else value)


def _chain(previous_id: str | None, kept: dict) -> tuple[Response | None, list[dict]]:
    """The response continued, and its chain's items, oldest first: each response's input, then output.
    A response of ``kept`` (unsaved Response rows) is found there, any other in the database."""
    if not previous_id:
        return None, []
    found: list[Response] = []
    next_id = previous_id
    while next_id and len(found) < MAX_CHAIN:
        if next_id in kept:
            found.append(kept[next_id])
        else:
            stored = _stored_chain(next_id, MAX_CHAIN - len(found)) if is_plausible_id(next_id) else []
            if not stored:
                raise PreviousResponseNotFound(f"Previous response with id '{next_id[:128]}' not found.")
            found.extend(stored)
        next_id = found[-1].previous_response_id
    context = [item for response in reversed(found) for item in [*response.input_items, *response.output]]
    return found[0], context


def _stored_chain(first_id: str, limit: int) -> list[Response]:
    """The caller's stored response ``first_id`` and those it continues, newest first, at most ``limit``:
    one recursive query (a chain of n responses took n). It stops where the next is not stored."""
    return list(db.session.scalars(_chain_select(), {"id": first_id, "tenant": tenant(), "limit": limit}))


@cache
def _chain_select():
    """Built once: composing this statement costs more than running it."""
    chain = (select(Response.id, Response.previous_response_id, literal_column("1").label("depth"))
             .where(Response.id == bindparam("id"), Response.tenant == bindparam("tenant"))
             .cte("chain", recursive=True))
    older = aliased(Response)
    chain = chain.union_all(select(older.id, older.previous_response_id, chain.c.depth + literal_column("1"))
                            .join(chain, older.id == chain.c.previous_response_id)
                            .where(older.tenant == bindparam("tenant"), chain.c.depth < bindparam("limit")))
    return (select(Response).select_from(chain)  # the chain's rows by primary key
            .join(Response, Response.id == chain.c.id).order_by(chain.c.depth))


def _input(value) -> list[dict]:
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return [dict(item, type=item.get("type") or "message") for item in value or []]


def _with_ids(given: list[dict], context: list[dict], conversation: Thread | None) -> list[dict]:
    """Each input item with an id, item_reference replaced by the item it names (from the chain's items or
    the conversation's)."""
    resolved = []
    for item in given:
        if item["type"] == "item_reference":
            item = _referenced(item["id"], context, conversation)
        prefix = {"message": "msg_", "function_call": "fc_", "function_call_output": "fco_",
                  "compaction": "cmp_"}.get(item["type"], "item_")
        item = {**item, "id": item.get("id") or new_token_id(prefix)}
        if item["type"] == "message" and isinstance(item.get("content"), str):  # as input_items lists it
            text_type = "output_text" if item["role"] == "assistant" else "input_text"
            item["content"] = [{"type": text_type, "text": item["content"]}]
        resolved.append(item)
    return resolved


def _check_outputs_answer_calls(context: list[dict], given: list[dict]) -> None:
    """Each function_call_output answers a function_call of the context or of the input (as OpenAI checks)."""
    calls = {item.get("call_id") for item in [*context, *given] if item["type"] == "function_call"}
    for item in given:
        if item["type"] == "function_call_output" and item["call_id"] not in calls:
            raise invalid("input", f"No tool call found for function call output with call_id "
                                   f"{item['call_id'][:128]}.")


def _referenced(item_id: str, context: list[dict], conversation: Thread | None) -> dict:
    for item in context:
        if item.get("id") == item_id:
            return dict(item)
    if conversation is not None:
        rows = db.session.scalars(select(Message).where(Message.thread_id == conversation.id)
                                  .order_by(Message.position))
        for item in items.as_items(rows):
            if item["id"] == item_id:
                return item
    raise invalid("input", f"No item with id '{item_id[:128]}' to reference.")


def _tools(fields: dict, assistant: Assistant, searches: list[dict], first_call: int):
    """The request's function tools in Chat Completions' shape, the tools the service runs itself
    (file_search), and all of them as the response shows them; none given: the assistant's function tools.
    Built-in tools this service does not run: 400."""
    if fields.get("tools") is None:
        tools = function_tools(assistant.details) if assistant.id else None
        return tools, {}, _responses_tools(tools)
    tools, server_tools, shown = [], {}, []
    for tool in fields["tools"]:
        if tool["type"] == "file_search" and "file_search" not in server_tools:
            server_tools["file_search"] = file_search.server_tool(tool, fields.get("include"), searches,
                                                                  first_call)
            shown.append(file_search.shown(tool))
            continue
        if tool["type"] != "function":
            raise invalid("tools", f"The {tool['type']} tool is not run by this service: send function or "
                                   f"file_search tools.")
        function = {key: tool[key] for key in ("name", "description", "parameters", "strict") if key in tool}
        tools.append({"type": "function", "function": function})
        shown += _responses_tools(tools[-1:])
    return tools, server_tools, shown


def _calls_before(context: list[dict], conversation: Thread | None) -> int:
    """At least as many as the server tool calls the model saw before: new calls are numbered after them
    (the citation markers of its history stay unambiguous)."""
    if conversation is not None:
        return db.session.scalar(select(func.count()).select_from(Message).where(
            Message.thread_id == conversation.id, Message.role == "tool")) or 0
    return sum(item.get("type") == "file_search_call" for item in context)


def _responses_tools(tools: list[dict] | None) -> list[dict]:
    """The function tools as a response object shows them: every field, null when not given."""
    return [{"type": "function", "name": tool["function"]["name"],
             **{key: tool["function"].get(key) for key in ("description", "parameters", "strict")}}
            for tool in tools or []]


def _options(fields: dict) -> dict:
    """The request's settings as Chat Completions options (the pipeline's terms)."""
    options = {name: fields.get(name) for name in ("parallel_tool_calls", "user", "safety_identifier",
                                                   "prompt_cache_key", "service_tier", "top_logprobs")}
    choice = fields.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "function":
        choice = {"type": "function", "function": {"name": choice["name"]}}
    options["tool_choice"] = choice
    text_format = (fields.get("text") or {}).get("format")
    if text_format and text_format.get("type") == "json_schema":
        schema = {key: text_format.get(key) for key in ("name", "schema", "strict", "description")
                  if text_format.get(key) is not None}
        options["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif text_format and text_format.get("type") == "json_object":
        options["response_format"] = {"type": "json_object"}
    if (fields.get("reasoning") or {}).get("effort"):
        options["reasoning_effort"] = fields["reasoning"]["effort"]
    if "message.output_text.logprobs" in (fields.get("include") or ()) or fields.get("top_logprobs"):
        options["logprobs"] = True
    return {name: value for name, value in options.items() if value is not None}
