"""The agents API's view of an assistant: an agent. One Assistant row stands behind it: name,
description, instructions and model live in Assistant.details (the Flowise API shows the same
assistant), `tools` in agent_tools, `metadata` in agent_metadata, the rest in their columns;
AgentSchema reads them off the row."""
from sqlalchemy import func, select

from ..errors import invalid
from ..extensions import db
from ..models import Assistant
from ..schemas.agents import METADATA_PAIRS
from . import pages, tenant
from .assistants import create_assistant, delete_assistant, find_assistant, get_assistant, update_assistant
from .status import agent_status, agent_statuses

NOT_FOUND = "No agent found with the specified ID."
DETAIL_FIELDS = ("name", "description", "instructions", "model")


def find_agent(agent_id: str) -> Assistant:
    """By the agent's id or its details.id (asst_...), within the caller's tenant."""
    return get_assistant(agent_id, NOT_FOUND)


def with_status(assistant: Assistant) -> Assistant:
    """The agent with its live status checked (AgentSchema serializes both)."""
    assistant.live_status, assistant.live_status_errors = agent_status(assistant)
    return assistant


def _row_fields(fields: dict) -> dict:
    """The loaded request's fields, keyed by Assistant column (details fields left in place)."""
    if fields.get("index_id") is not None:
        fields["index_id"] = str(fields["index_id"])
    return fields


def create_agent(fields: dict) -> Assistant:
    fields = _row_fields(fields)
    details = {name: fields.pop(name) for name in DETAIL_FIELDS if fields.get(name) is not None}
    for name in DETAIL_FIELDS:
        fields.pop(name, None)
    fields["agent_metadata"] = fields.get("agent_metadata") or {}
    return create_assistant({"details": details, **fields})


def update_agent(assistant: Assistant, fields: dict) -> Assistant:
    """Fields left out keep their values; a metadata key set to null is removed."""
    fields = _row_fields(fields)
    changes = {name: fields.pop(name) for name in DETAIL_FIELDS if name in fields}
    if changes:
        details = {**assistant.details, **changes}
        fields["details"] = {name: value for name, value in details.items() if value is not None}
    if "agent_metadata" in fields:
        merged = dict(assistant.agent_metadata or {})
        for key, value in fields["agent_metadata"].items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        if len(merged) > METADATA_PAIRS:
            raise invalid("metadata", f"At most {METADATA_PAIRS} metadata pairs are allowed; this update "
                                      f"would leave {len(merged)}. Set keys to null to remove them.")
        fields["agent_metadata"] = merged
    return update_assistant(assistant, fields)


def delete_agent(assistant: Assistant) -> dict:
    """The agent, its sessions and, where the backend keeps one, its remote twin."""
    agent_id = assistant.id
    delete_assistant(assistant, delete_remote=True)
    return {"id": agent_id, "object": "agent.deleted", "deleted": True}


def list_agents(args: dict) -> dict:
    """A cursor page: `after` continues in the listing's order, `before` goes back from an id."""
    query = select(Assistant).where(Assistant.tenant == tenant())
    if "name" in args:
        query = query.where(Assistant.details["name"].as_string() == args["name"])
    total = (db.session.scalar(select(func.count()).select_from(query.subquery()))
             if args["set_num_objects"] else None)

    def cursor_of(agent_id):
        row = find_assistant(agent_id)
        return (row.created_at, row.id) if row is not None else None

    rows = pages.page(query, (Assistant.created_at, Assistant.id), cursor_of, args)
    statuses = agent_statuses(rows.rows)
    for row in rows.rows:
        row.live_status, row.live_status_errors = statuses[row.id]
    return {"object": "list", "data": rows.rows, "first_id": rows.rows[0].id if rows.rows else None,
            "last_id": rows.rows[-1].id if rows.rows else None, "has_more": rows.has_more,
            "num_objects": total}
