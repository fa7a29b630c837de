"""v2 assistants: the same rows as /assistants and the agents API. The v2 object's fields live
in details (Flowise's), its metadata in the agents API's metadata; its id is details.id."""
from sqlalchemy import select

from ...models import Assistant
from .. import assistants as rows
from .. import pages, tenant
from . import listing, timestamp

DETAIL_FIELDS = ("model", "name", "description", "instructions", "tool_resources", "temperature", "top_p",
                 "response_format", "reasoning_effort")


def _stored_tools(tools: list[dict]) -> list:
    """v2 tools as details stores them: code_interpreter and file_search by name."""
    return [tool if tool["type"] == "function" else tool["type"] for tool in tools]


def v2_tools(details: dict) -> list[dict]:
    return [{"type": tool} if isinstance(tool, str) else tool for tool in details.get("tools") or []]


def present(assistant: Assistant) -> dict:
    details = assistant.details
    return {
        "id": assistant.details_id, "object": "assistant", "created_at": timestamp(assistant.created_at),
        "name": details.get("name"), "description": details.get("description"),
        "model": details.get("model", ""),
        "instructions": details.get("instructions"), "tools": v2_tools(details),
        "tool_resources": details.get("tool_resources") or {}, "metadata": assistant.agent_metadata or {},
        "temperature": details.get("temperature"), "top_p": details.get("top_p"),
        "response_format": details.get("response_format") or "auto",
    }


def _split(fields: dict, details: dict) -> dict:
    details = dict(details)
    for name in DETAIL_FIELDS:
        if name in fields:
            details[name] = fields[name]
    if "tools" in fields:
        details["tools"] = _stored_tools(fields["tools"])
    return details


def get(assistant_id: str) -> Assistant:
    """By its asst_ id (or its row id, as the other APIs name it), within the caller's tenant."""
    return rows.get_assistant(assistant_id, not_found=f"No assistant found with id '{assistant_id[:128]}'.")


def create(fields: dict) -> Assistant:
    assistant = rows.create_assistant({"details": _split(fields, {})})
    assistant.agent_metadata = fields.get("metadata") or {}
    return assistant


def modify(assistant: Assistant, fields: dict) -> Assistant:
    changes = {"details": _split(fields, assistant.details)}
    if "metadata" in fields:
        changes["agent_metadata"] = fields["metadata"] or {}
    return rows.update_assistant(assistant, changes)


def delete(assistant: Assistant) -> dict:
    public_id = assistant.details_id
    rows.delete_assistant(assistant, delete_remote=True)
    return {"id": public_id, "object": "assistant.deleted", "deleted": True}


def listed(params: dict) -> dict:
    query = select(Assistant).where(Assistant.tenant == tenant())

    def cursor_of(public_id):
        row = rows.find_assistant(public_id)
        return (row.created_at, row.id) if row is not None else None

    found = pages.page(query, (Assistant.created_at, Assistant.id), cursor_of, params)
    return listing([present(row) for row in found.rows], found.has_more)
