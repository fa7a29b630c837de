"""Assistants: one row behind all three APIs. With the `assistants` backend the provider
keeps a twin (details.id is its asst_ id); every other backend mints details.id here."""
from sqlalchemy import bindparam, or_, select

from ..errors import Conflict
from ..extensions import db, openai_adapter
from ..models import Assistant, new_token_id, new_uuid
from ..openai_adapter import AssistantSpec, ProviderError
from . import is_plausible_id, tenant
from .credentials import backend_api, connection_for, find_credential


def function_tools(details: dict) -> list[dict]:
    """The OpenAI function tool definitions among an assistant's tools."""
    return [tool for tool in details.get("tools") or [] if isinstance(tool, dict)]


def remote_spec(assistant: Assistant) -> AssistantSpec:
    details = assistant.details
    tools = [{"type": tool} for tool in details.get("tools") or [] if tool in ("code_interpreter", "file_search")]
    return AssistantSpec(
        model=details["model"],
        name=details.get("name"),
        description=details.get("description"),
        instructions=details.get("instructions"),
        temperature=details.get("temperature"),
        top_p=details.get("top_p"),
        tools=tools + function_tools(details),
        metadata={"assistants_app_id": assistant.id},
    )


def uses_remote_assistant(assistant: Assistant) -> bool:
    return backend_api(assistant.credential) == "assistants"


# Built once: composing a select costs about as much as running it (~0.1 ms), on every chat turn.
BY_ID_OR_DETAILS_ID = select(Assistant).where(
    Assistant.tenant == bindparam("tenant"),
    or_(Assistant.id == bindparam("id"), Assistant.details_id == bindparam("id")),
)


def find_assistant(assistant_id: str) -> Assistant | None:
    """By the assistant's own id or by its details.id (asst_...), within the caller's tenant."""
    if not is_plausible_id(assistant_id):
        return None
    return db.session.scalar(BY_ID_OR_DETAILS_ID, {"id": assistant_id, "tenant": tenant()})


def _details_without_id(details: dict) -> tuple[dict, str | None]:
    details = dict(details)
    return details, details.pop("id", None)


def _link_remote(assistant: Assistant, adopt_id: str | None) -> None:
    """Create the provider's twin, or adopt (and update) the one the client named."""
    conn = connection_for(assistant.credential)
    if adopt_id:
        taken = db.session.scalar(
            select(Assistant.id).where(Assistant.tenant == tenant(), Assistant.details_id == adopt_id)
        )
        if taken and taken != assistant.id:
            raise Conflict(f"Remote assistant {adopt_id!r} is already linked to assistant {taken}.")
        openai_adapter.update_remote_assistant(conn, adopt_id, remote_spec(assistant))
        assistant.details_id = adopt_id
    else:
        assistant.details_id = openai_adapter.create_remote_assistant(conn, remote_spec(assistant))


def create_assistant(fields: dict) -> Assistant:
    details, adopt_id = _details_without_id(fields.pop("details"))
    credential = find_credential(fields.pop("credential_id", None))
    # The id is minted here: the remote twin's metadata names it.
    assistant = Assistant(id=new_uuid(), tenant=tenant(), credential=credential, details=details, **fields)
    if uses_remote_assistant(assistant):
        _link_remote(assistant, adopt_id)
    else:
        assistant.details_id = new_token_id("asst_")
    db.session.add(assistant)
    return assistant


def update_assistant(assistant: Assistant, fields: dict) -> Assistant:
    was_remote = uses_remote_assistant(assistant)
    if "credential_id" in fields:
        assistant.credential = find_credential(fields.pop("credential_id"))
    if "details" in fields:
        details, adopt_id = _details_without_id(fields.pop("details"))
        assistant.details = details
    else:
        adopt_id = None
    for name, value in fields.items():
        setattr(assistant, name, value)
    if uses_remote_assistant(assistant):
        if was_remote and not adopt_id:
            conn = connection_for(assistant.credential)
            openai_adapter.update_remote_assistant(conn, assistant.details_id, remote_spec(assistant))
        else:
            _link_remote(assistant, adopt_id)
    return assistant


def delete_assistant(assistant: Assistant, *, delete_remote: bool) -> None:
    """Deletes the row, its threads and messages. With delete_remote, also the provider's
    twin (one already gone counts as deleted; any other failure deletes nothing) and, best
    effort, the provider-side conversations of its threads."""
    if delete_remote:
        conn = connection_for(assistant.credential) if backend_api(assistant.credential) != "chat_completions" else None
        if uses_remote_assistant(assistant):
            openai_adapter.delete_remote_assistant(conn, assistant.details_id)
        for thread in assistant.threads:
            if thread.remote_id:
                try:
                    openai_adapter.delete_remote_thread(conn, thread.remote_id)
                except ProviderError:
                    pass  # best effort: the local history goes regardless
    db.session.delete(assistant)
