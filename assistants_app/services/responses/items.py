"""Items, the Responses and Conversations APIs' unit of a conversation, and the turn pipeline's messages:

    messages, columns = as_messages(items)   # input items -> ChatMessages for the provider, and the columns
                                             # (item_type, item) that store each one as a Message row
    as_items(rows)                           # stored Message rows -> conversation items, in order
    output_items(done, message_id, ...)      # how a turn ended -> a response's output items

A message row is a message item; an assistant row with tool_calls is its function_call items (after its
text, if any); a tool row is a function_call_output item. Items of other types (reasoning,
file_search_call) are kept as they are in the row's `item` and not sent to a chat provider; a compaction
item is kept so too, its summary sent as a system message (compaction.py). An assistant message's phase
(commentary, final_answer) is kept with it; a chat provider has no use for it. A call the
service ran itself (file_search: its row's item lists it under "served") is not a function_call item: the
row of its answer is its file_search_call item."""
from ...errors import ServiceError
from ...models import Message, new_token_id
from ...openai_adapter import ChatMessage, ToolCall
from . import compaction, file_search

# Roles a chat provider knows: developer instructions go as system messages.
ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
KEPT_TYPES = ("reasoning", "file_search_call")


def invalid_input(message: str) -> ServiceError:
    return ServiceError(400, message, {"json": {"input": [message]}})


def parts_of(content) -> list[dict]:
    """A message's content as parts: a string is one text part."""
    if isinstance(content, str):
        return [{"type": "input_text", "text": content}]
    return list(content or [])


def chat_content(role: str, parts: list[dict]):
    """Parts as a chat message's content: a string when they are all text, else chat content parts."""
    texts = [part.get("text") or "" for part in parts
             if part.get("type") in ("input_text", "output_text", "text")]
    if all(part.get("type") in ("input_text", "output_text", "text", "refusal") for part in parts):
        refusals = [part.get("refusal") or "" for part in parts if part.get("type") == "refusal"]
        return "".join(texts + refusals)
    chat = []
    for part in parts:
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text"):
            chat.append({"type": "text", "text": part.get("text") or ""})
        elif kind == "input_image":
            if not part.get("image_url"):
                raise invalid_input("input_image needs an image_url (a URL or a data: URL); file_id is not "
                                    "supported here.")
            chat.append({"type": "image_url", "image_url": {"url": part["image_url"],
                                                            "detail": part.get("detail") or "auto"}})
        elif kind == "input_file":
            if not part.get("file_data"):
                raise invalid_input("input_file needs file_data (a base64 data: URL) here.")
            chat.append({"type": "file", "file": {"filename": part.get("filename") or "file",
                                                  "file_data": part["file_data"]}})
        else:
            raise invalid_input(f"A {role} message cannot hold a {kind} part.")
    return chat


def as_messages(items: list[dict]) -> tuple[list[ChatMessage], list[dict]]:
    """Input items (already resolved: no item_reference left) as the pipeline's messages, and the columns
    each one is stored with in a conversation."""
    messages, columns = [], []
    for item in items:
        kind = item.get("type") or "message"
        if kind == "message":
            role = ROLES[item["role"]]
            parts = parts_of(item.get("content"))
            messages.append(ChatMessage(role=role, content=chat_content(role, parts)))
            stored = {"type": "message", "id": item.get("id") or new_token_id("msg_"), "role": item["role"],
                      "content": parts, **({"phase": item["phase"]} if item.get("phase") else {})}
            columns.append({"item_type": None, "item": stored})
        elif kind == "function_call":
            call = {"id": item["call_id"], "name": item["name"], "arguments": item.get("arguments") or ""}
            messages.append(ChatMessage(role="assistant", content=None, tool_calls=[call]))
            columns.append({"item_type": "function_call",
                            "item": {"ids": [item.get("id") or new_token_id("fc_")]}})
        elif kind == "function_call_output":
            output = item.get("output")
            text = output if isinstance(output, str) else chat_content("tool", parts_of(output))
            if not isinstance(text, str):
                raise invalid_input("A function_call_output's output must be text here.")
            messages.append(ChatMessage(role="tool", content=text, tool_call_id=item["call_id"]))
            columns.append({"item_type": "function_call_output",
                            "item": {"id": item.get("id") or new_token_id("fco_")}})
        elif kind == "compaction":
            messages.append(ChatMessage(role="system", content=compaction.as_context(item)))
            kept = {key: item[key] for key in ("type", "id", "encrypted_content")}
            columns.append({"item_type": "compaction", "item": kept})
        elif kind in KEPT_TYPES:
            continue  # the provider's own state of an earlier turn: not sent to a chat provider
        else:
            raise invalid_input(f"Items of type {kind!r} are not supported.")
    return messages, columns


def row_items(row: Message) -> list[dict]:
    """The items of one stored row (see the module's docstring)."""
    item = row.item or {}
    if row.item_type in (*KEPT_TYPES, "compaction"):
        return [item]
    if row.role == "tool":
        return [{"type": "function_call_output", "id": item.get("id") or row.id, "call_id": row.tool_call_id,
                 "output": row.content or "", "status": "completed"}]
    found, served = [], item.get("served") or ()
    if row.content is not None or not row.tool_calls:
        role = item.get("role") or ("developer" if row.is_summary else row.role)
        text_type = "output_text" if row.role == "assistant" else "input_text"
        parts = item.get("content") or [{"type": text_type, "text": row.content or ""}]
        if row.role == "assistant":
            parts = [{**part, "annotations": part.get("annotations", []),
                      "logprobs": part.get("logprobs", [])}
                     if part.get("type") == "output_text" else part for part in parts]
        found.append({"type": "message", "id": item.get("id") or row.id, "status": "completed", "role": role,
                      "content": parts, **({"phase": item["phase"]} if item.get("phase") else {})})
    ids = item.get("ids") or []
    for index, call in enumerate(row.tool_calls or ()):
        if call["id"] in served:
            continue
        found.append({"type": "function_call",
                      "id": ids[index] if index < len(ids) else f"fc_{row.id[4:]}_{index}",
                      "call_id": call["id"], "name": call["name"], "arguments": call["arguments"],
                      "status": "completed"})
    return found


def as_items(rows) -> list[dict]:
    return [item for row in rows for item in row_items(row)]


def output_items(done, message_id: str, call_ids: list[str], incomplete: bool, before: list[dict],
                 searches: list[dict]) -> list[dict]:
    """A finished turn's output: the items before its reply (its server tools' calls), its message (when it
    said anything or called nothing; citing the passages of ``searches``), then its function calls."""
    output = list(before)
    if done.text or not done.tool_calls:
        cited = file_search.annotations(done.text, searches)
        output.append({"type": "message", "id": message_id,
                       "status": "incomplete" if incomplete else "completed",
                       "role": "assistant", "content": [{"type": "output_text", "text": done.text,
                                                         "annotations": cited, "logprobs": []}]})
    output += [function_call_item(call, call_ids[index]) for index, call in enumerate(done.tool_calls)]
    return output


def function_call_item(call: ToolCall, item_id: str, status: str = "completed") -> dict:
    return {"type": "function_call", "id": item_id, "call_id": call.id, "name": call.name,
            "arguments": call.arguments, "status": status}
