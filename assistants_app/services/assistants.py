"""Assistants: one row behind all three APIs. With the `assistants` backend the provider
keeps a twin (details.id is its asst_ id); every other backend mints details.id here.

Deleting one deletes what is its own -- the conversations API's threads and the agents API's
sessions, with their messages -- and not what only used it: the Assistants API's runs and their
messages stay, naming it by its asst_ id (a run still going ends failed).

The twin is written before the row, with no database connection held while the provider
answers: an update locks the row only afterwards, and answers 409 if it changed meanwhile."""
import hashlib

from sqlalchemy import bindparam, or_, select, update

from ..errors import Conflict, NotFound, invalid
from ..extensions import db, openai_adapter
from ..models import Assistant, Credential, Run, new_token_id, new_uuid, utcnow
from ..openai_adapter import AssistantSpec, ProviderError
from . import is_plausible_id, lock_row, tenant
from .credentials import backend_api, connection_for, find_credential
from .v2.run_slots import free_thread
from .v2.threads import ACTIVE
from .retrieval import file_search

# The remote twin's metadata names its assistant and (as a digest) its tenant: a remote
# assistant may be adopted only by the tenant whose service wrote it, or through a
# credential of the caller's own.
APP_ID_KEY, TENANT_KEY = "assistants_app_id", "assistants_app_tenant"


def tenant_tag(name: str) -> str:
    return hashlib.sha256(f"assistants_app tenant {name}".encode()).hexdigest()[:32]


def function_tools(details: dict) -> list[dict]:
    """The OpenAI function tool definitions among an assistant's tools."""
    return [tool for tool in details.get("tools") or [] if isinstance(tool, dict)]


def remote_spec(assistant_id: str, details: dict) -> AssistantSpec:
    tools = [{"type": tool} for tool in details.get("tools") or []
             if tool in ("code_interpreter", "file_search")]
    return AssistantSpec(
        model=details["model"],
        name=details.get("name"),
        description=details.get("description"),
        instructions=details.get("instructions"),
        temperature=details.get("temperature"),
        top_p=details.get("top_p"),
        tools=tools + function_tools(details),
        metadata={APP_ID_KEY: assistant_id, TENANT_KEY: tenant_tag(tenant())},
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


def get_assistant(assistant_id: str, not_found: str | None = None) -> Assistant:
    """find_assistant(), or 404 with ``not_found`` (by default, the conversations API's sentence)."""
    assistant = find_assistant(assistant_id)
    if assistant is None:
        raise NotFound(not_found or f"Agent {assistant_id[:128]!r} not found.")
    return assistant


def _details_without_id(details: dict) -> tuple[dict, str | None]:
    """The details to store (tool_resources' vector stores must be the tenant's), and the id they gave."""
    details = dict(details)
    if details.get("tool_resources"):
        details["tool_resources"] = file_search.check_tool_resources(details["tool_resources"], tenant())
    return details, details.pop("id", None)


def _check_not_linked(assistant_id: str, adopt_id: str) -> None:
    taken = db.session.scalar(
        select(Assistant.id).where(Assistant.tenant == tenant(), Assistant.details_id == adopt_id))
    if taken and taken != assistant_id:
        raise Conflict(f"Remote assistant {adopt_id!r} is already linked to assistant {taken}.")


def _check_adoptable(conn, credential: Credential | None, adopt_id: str) -> None:
    """Through the shared default provider, only a remote assistant this tenant made."""
    if credential is not None:
        return  # the caller's own provider account
    metadata = openai_adapter.remote_assistant_metadata(conn, adopt_id)
    if metadata is not None:
        if metadata.get(TENANT_KEY) == tenant_tag(tenant()):
            return
        owner = metadata.get(APP_ID_KEY)
        if owner and db.session.scalar(select(Assistant.id).where(Assistant.id == owner,
                                                                  Assistant.tenant == tenant())):
            return
    raise invalid("details", f"details.id {adopt_id!r}: no remote assistant of this tenant has that id.")


def _write_twin(conn, credential: Credential | None, assistant_id: str, details: dict,
                remote_id: str | None, adopt: bool) -> str:
    """Create the provider's twin, or update (adopting, when asked) an existing one; its id."""
    spec = remote_spec(assistant_id, details)
    if remote_id is None:
        return openai_adapter.create_remote_assistant(conn, spec)
    if adopt:
        _check_adoptable(conn, credential, remote_id)
    openai_adapter.update_remote_assistant(conn, remote_id, spec)
    return remote_id


def create_assistant(fields: dict) -> Assistant:
    details, adopt_id = _details_without_id(fields.pop("details"))
    credential = find_credential(fields.pop("credential_id", None))
    # The id is minted here: the remote twin's metadata names it.
    assistant_id = new_uuid()
    if backend_api(credential) == "assistants":
        conn = connection_for(credential)
        if adopt_id:
            _check_not_linked(assistant_id, adopt_id)
        details_id = _write_twin(conn, credential, assistant_id, details, adopt_id, adopt=bool(adopt_id))
    else:
        details_id = new_token_id("asst_")
    assistant = Assistant(id=assistant_id, tenant=tenant(), credential=credential, details=details,
                          details_id=details_id, **fields)
    db.session.add(assistant)
    return assistant


def update_assistant(assistant: Assistant, fields: dict, precondition=None) -> Assistant:
    """Fields left out keep their values; `details`, when given, replaces the old ones.
    ``precondition(assistant)`` (an If-Match check) runs on the row as locked for the write."""
    fields = dict(fields)
    if "credential_id" in fields:
        fields["credential"] = find_credential(fields.pop("credential_id"))
    adopt_id = None
    if "details" in fields:
        fields["details"], adopt_id = _details_without_id(fields["details"])
    credential = fields.get("credential", assistant.credential)
    if backend_api(credential) == "assistants":
        # The provider first, with no connection held; the row is then locked and must not have moved.
        read_version = assistant.updated_at
        remote_id = adopt_id or (assistant.details_id if uses_remote_assistant(assistant) else None)
        conn = connection_for(credential)
        if adopt_id:
            _check_not_linked(assistant.id, adopt_id)
        fields["details_id"] = _write_twin(conn, credential, assistant.id,
                                           fields.get("details", assistant.details), remote_id,
                                           adopt=bool(adopt_id) and adopt_id != assistant.details_id)
        lock_row(assistant, unchanged_since=read_version)
    else:
        lock_row(assistant)
    if precondition is not None:
        precondition(assistant)
    for name, value in fields.items():
        setattr(assistant, name, value)
    return assistant


def delete_assistant(assistant: Assistant, *, delete_remote: bool) -> None:
    """Deletes the row, its threads and messages; its v2 runs stay (the database sets their
    assistant_id to NULL), those still going ended failed. With delete_remote, also the provider's
    twin (one already gone counts as deleted; any other failure deletes nothing) and, best
    effort, the provider-side conversations of its threads."""
    if delete_remote and backend_api(assistant.credential) != "chat_completions":
        conn = connection_for(assistant.credential)
        remote_threads = [thread.remote_id for thread in assistant.threads if thread.remote_id]
        if uses_remote_assistant(assistant):
            openai_adapter.delete_remote_assistant(conn, assistant.details_id)
        for remote_id in remote_threads:
            try:
                openai_adapter.delete_remote_thread(conn, remote_id)
            except ProviderError:
                pass  # best effort: the local history goes regardless
    _fail_active_runs(assistant)
    db.session.delete(assistant)


# What a v2 run that was going on when its assistant was deleted says of itself.
ASSISTANT_DELETED = {"code": "server_error", "message": "The run's assistant was deleted while the run was "
                                                        "active; nothing of it was stored."}


def _fail_active_runs(assistant: Assistant) -> None:
    """Its v2 runs still going end failed, as a cancel ends a run (services/v2/runs.py end()): their
    threads are free again, and a run waiting for tool outputs takes its unanswered round out of the
    history. A worker carrying one out notices, and writes nothing."""
    active = list(db.session.scalars(select(Run).where(Run.assistant_id == assistant.id,
                                                       Run.status.in_(ACTIVE))))
    for run in active:
        free_thread(run)
        db.session.execute(update(Run).where(Run.id == run.id, Run.status == run.status).values(
            status="failed", failed_at=utcnow(), turn_token=None, required_action=None,
            last_error=ASSISTANT_DELETED).execution_options(synchronize_session=False))
