"""The Conversations API (/v1/conversations): a conversation is a Thread (id conv_..., no assistant of its
own), its items are Messages, typed (services/responses/items.py): the same store as every API's
threads, so a conversation can be read as a v2 thread too. A response with `conversation` reads its items
as context and appends its input and output when it completes."""
from sqlalchemy import select

from ..errors import Conflict, NotFound, ServiceError
from ..extensions import db
from ..models import Message, Thread, new_token_id
from . import is_plausible_id, owned_select, pages, tenant, tenant_limits, turn_lock
from .responses import items
from .sessions import current_time
from .v2 import timestamp


def present(thread: Thread) -> dict:
    return {"id": thread.id, "object": "conversation", "created_at": timestamp(thread.created_at),
            "metadata": thread.thread_metadata or {}}


def get(conversation_id: str) -> Thread:
    thread = None
    if is_plausible_id(conversation_id) and conversation_id.startswith("conv_"):
        thread = db.session.scalar(owned_select(Thread), {"id": conversation_id, "tenant": tenant()})
    if thread is None:
        raise NotFound(f"Conversation with id '{conversation_id[:128]}' not found.")
    return thread


def create(fields: dict) -> Thread:
    if fields.get("items"):
        tenant_limits.check_storage(tenant())
    thread = Thread(id=new_token_id("conv_"), tenant=tenant(), assistant=None, last_active_at=current_time(),
                    thread_metadata=fields.get("metadata") or {})
    db.session.add(thread)
    db.session.flush()
    db.session.add_all(_rows(thread, 0, fields.get("items") or []))
    return thread


def modify(thread: Thread, fields: dict) -> Thread:
    thread.thread_metadata = fields.get("metadata") or {}
    return thread


def delete(thread: Thread) -> dict:
    db.session.delete(thread)
    return {"id": thread.id, "object": "conversation.deleted", "deleted": True}


def _rows(thread: Thread, first_position: int, given: list[dict]) -> list[Message]:
    given = [dict(item, type=item.get("type") or "message") for item in given]
    if any(item["type"] == "item_reference" for item in given):
        raise ServiceError(400, "item_reference items are for responses; add the item itself.")
    messages, columns = items.as_messages(given)
    rows = []
    for offset, (message, stored) in enumerate(zip(messages, columns)):
        content = message.content
        if isinstance(content, list):
            content = "".join(part.get("text") or "" for part in content if part.get("type") == "text")
        rows.append(Message(thread_id=thread.id, position=first_position + offset, role=message.role,
                            content=content, tool_calls=message.tool_calls, tool_call_id=message.tool_call_id,
                            **stored))
    return rows


def add_items(thread: Thread, given: list[dict]) -> list[dict]:
    """Append items, under the conversation's turn lock (a response running on it meanwhile: 409)."""
    tenant_limits.check_storage(tenant())
    rows = _rows(thread, 0, given)  # items that cannot be added: 400 before the lock is taken
    try:
        token, last_position = turn_lock.take(thread)
    except Conflict:
        raise Conflict("A response is in progress on this conversation; "
                       "add items when it has finished.") from None
    for offset, row in enumerate(rows):
        row.position = last_position + 1 + offset
    db.session.add_all(rows)
    db.session.execute(turn_lock.RELEASE, {"thread_id": thread.id, "token": token})  # with the rows' commit
    thread.last_active_at = current_time()
    return items.as_items(rows)


def _visible(thread: Thread):
    return select(Message).where(Message.thread_id == thread.id)


def list_items(thread: Thread, params: dict) -> dict:
    def cursor_of(item_id):
        row = _row_of(thread, item_id)
        return (row.position,) if row is not None else None

    found = pages.page(_visible(thread), (Message.position,), cursor_of, params,
                       size=pages.text_bytes(Message.content))
    listed = items.as_items(found.rows)
    if params["order"] == "desc":  # a row's items in their own order, rows newest first
        listed = [item for row in found.rows for item in reversed(items.row_items(row))]
    return {"object": "list", "data": listed, "first_id": listed[0]["id"] if listed else None,
            "last_id": listed[-1]["id"] if listed else None, "has_more": found.has_more}


def _row_of(thread: Thread, item_id: str) -> Message | None:
    """The row holding item ``item_id``: by the row's id, else among its items' (a function call's)."""
    if not is_plausible_id(item_id):
        return None
    row = db.session.scalar(_visible(thread).where(Message.id == item_id))
    if row is not None:
        return row
    with_items = Message.item.is_not(None) | Message.tool_calls.is_not(None)
    for row in db.session.scalars(_visible(thread).where(with_items)):
        if any(found["id"] == item_id for found in items.row_items(row)):
            return row
    return None


def get_item(thread: Thread, item_id: str) -> dict:
    row = _row_of(thread, item_id)
    found = [item for item in items.row_items(row) if item["id"] == item_id] if row is not None else []
    if not found:
        raise NotFound(f"Item with id '{item_id[:128]}' not found.")
    return found[0]


def delete_item(thread: Thread, item_id: str) -> Thread:
    """Delete one item (a function call sharing its row with others leaves the row to them)."""
    row = _row_of(thread, item_id)
    if row is None:
        raise NotFound(f"Item with id '{item_id[:128]}' not found.")
    if row.item_type == "file_search_call":  # the call it answers goes from the row that asked it too
        _forget_served_call(thread, row.tool_call_id)
    row_items = items.row_items(row)
    calls = [item for item in row_items if item["type"] == "function_call"]
    if len(row_items) > 1 and any(item["id"] == item_id for item in calls):
        keep = [index for index, item in enumerate(calls) if item["id"] != item_id]
        gone = {item["call_id"] for item in calls if item["id"] == item_id}
        row.tool_calls = [row.tool_calls[index] for index in keep]
        row.item = {**(row.item or {}), "ids": [calls[index]["id"] for index in keep]}
    else:
        gone = {item["call_id"] for item in calls}
        db.session.delete(row)
    if gone and thread.pending_tool_calls:  # a deleted call is no longer waited for
        waited = [call for call in thread.pending_tool_calls if call["id"] not in gone]
        thread.pending_tool_calls = waited or None
    return thread


def _forget_served_call(thread: Thread, call_id: str | None) -> None:
    for asking in db.session.scalars(_visible(thread).where(Message.tool_calls.is_not(None))):
        if any(call["id"] == call_id for call in asking.tool_calls or ()):
            kept = [call for call in asking.tool_calls if call["id"] != call_id]
            if not kept and asking.content is None:
                db.session.delete(asking)
            else:
                asking.tool_calls = kept or None
                served = [served_id for served_id in (asking.item or {}).get("served", ())
                          if served_id != call_id]
                asking.item = {**(asking.item or {}), "served": served}
            return
