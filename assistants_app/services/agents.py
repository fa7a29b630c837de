"""The agents API's view of an assistant: an agent. One Assistant row stands behind it: name,
description, instructions and model live in Assistant.details (the Flowise API shows the same
assistant), `tools` in agent_tools, `metadata` in agent_metadata, the rest in their columns;
AgentSchema reads them off the row."""
from sqlalchemy import and_, func, or_, select

from ..errors import ServiceError, invalid
from ..extensions import db
from ..models import Assistant
from ..schemas.agents import METADATA_PAIRS
from . import tenant
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
            raise invalid("metadata", f"At most {METADATA_PAIRS} metadata pairs are allowed; this update would "
                                      f"leave {len(merged)}. Set keys to null to remove them.")
        fields["agent_metadata"] = merged
    return update_assistant(assistant, fields)


def delete_agent(assistant: Assistant) -> dict:
    """The agent, its sessions and, where the backend keeps one, its remote twin."""
    agent_id = assistant.id
    delete_assistant(assistant, delete_remote=True)
    return {"id": agent_id, "object": "agent.deleted", "deleted": True}


def _cursor(agent_id: str, name: str) -> tuple:
    row = find_assistant(agent_id)
    if row is None:
        raise ServiceError(422, "The request is invalid.",
                           {"query": {name: [f"No agent with id {agent_id[:128]!r} to list from."]}})
    return row.created_at, row.id


def _beyond(cursor: tuple, later: bool):
    """Agents after (later=True) or before the cursor in (created_at, id) order."""
    created_at, row_id = cursor
    if later:
        return or_(Assistant.created_at > created_at, and_(Assistant.created_at == created_at, Assistant.id > row_id))
    return or_(Assistant.created_at < created_at, and_(Assistant.created_at == created_at, Assistant.id < row_id))


def list_agents(args: dict) -> dict:
    """A cursor page: `after` continues in the listing's order, `before` goes back from an id."""
    query = select(Assistant).where(Assistant.tenant == tenant())
    if "name" in args:
        query = query.where(Assistant.details["name"].as_string() == args["name"])
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) if args["set_num_objects"] else None
    ascending = args["order"] == "asc"
    if "after" in args:
        query = query.where(_beyond(_cursor(args["after"], "after"), later=ascending))
    if "before" in args:
        query = query.where(_beyond(_cursor(args["before"], "before"), later=not ascending))
    # Only `before`: walk backwards from it, so the page is the one just before the cursor.
    forward = ascending if "before" not in args or "after" in args else not ascending
    order = (Assistant.created_at.asc(), Assistant.id.asc()) if forward else (Assistant.created_at.desc(),
                                                                              Assistant.id.desc())
    rows = db.session.scalars(query.order_by(*order).limit(args["limit"] + 1)).all()
    has_more = len(rows) > args["limit"]
    rows = rows[:args["limit"]]
    if forward != ascending:
        rows.reverse()
    statuses = agent_statuses(rows)
    for row in rows:
        row.live_status, row.live_status_errors = statuses[row.id]
    return {"object": "list", "data": rows, "first_id": rows[0].id if rows else None,
            "last_id": rows[-1].id if rows else None, "has_more": has_more, "num_objects": total}
