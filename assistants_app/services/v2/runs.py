"""v2 runs: created queued under the thread's turn lock (one active run per thread), their state
in the runs table, read from any worker. runner.py carries a run out; this module creates,
reads, cancels and resumes them.

A run whose worker died holds its thread's lock until the lock goes stale (turns.py): read after
that, it is reported failed (its requires_action, expired) and the thread is free again."""
from datetime import timedelta

from sqlalchemy import select, update

from ...errors import Conflict, ServiceError
from ...extensions import db, openai_adapter
from ...models import Run, Thread, utcnow
from .. import commit_keeping_loaded, is_plausible_id, pages, tenant, tenant_limits, turn_lock
from ..credentials import backend_api, connection_for
from ..history import as_chat
from ..tenant_limits import Caller
from ..turn_lock import stale_after
from ..turn_input import TurnInput
from ...schemas.v2.runs import RunV2Schema
from . import ActiveRun, listing
from . import assistants as assistants_v2
from . import run_tools
from .run_slots import free_thread
from . import threads as threads_v2
from .threads import ACTIVE, active_run, _message_row

OPTIONS = ("temperature", "top_p", "max_completion_tokens", "max_prompt_tokens", "tool_choice",
           "parallel_tool_calls", "truncation_strategy", "response_format", "reasoning_effort")
TOOL_OUTPUTS_WAIT = timedelta(minutes=10)  # how long requires_action waits, as OpenAI's runs do
RUN = RunV2Schema()


def present(run: Run) -> dict:
    """The run object (schemas/v2/runs.RunV2Schema), a plain dict: for a stream's events."""
    return RUN.dump(run)


def _lock(thread: Thread) -> tuple[str, int]:
    """The thread's turn lock for a new run, and the position of its last message."""
    try:
        token, last_position = turn_lock.take(thread)
    except Conflict:
        raise ActiveRun(thread.id) from None
    for run in db.session.scalars(select(Run).where(Run.thread_id == thread.id, Run.status.in_(ACTIVE))):
        check_stale(run)
    running = active_run(thread)
    if running is not None:
        turn_lock.free(thread.id, token)
        raise ActiveRun(thread.id, running.id)
    return token, last_position


def create_with_thread(caller: Caller, fields: dict) -> tuple[Thread, Run]:
    """A new thread and its queued run, committed with the run's lock; a refused run (unknown assistant,
    budget, quota) makes neither."""
    assistant = assistants_v2.get(fields["assistant_id"])
    thread = threads_v2.create(fields.get("thread") or {})
    return thread, create(caller, thread, fields, assistant)


def create(caller: Caller, thread: Thread, fields: dict, assistant=None) -> Run:
    """A queued run holding the thread's lock (a second one meanwhile: 400). The budget and the storage
    quota are checked here, so the request answers 429 (the run's turn checks the budget again)."""
    assistant = assistant or assistants_v2.get(fields["assistant_id"])
    tenant_limits.check_budget(caller)
    tenant_limits.check_storage(caller.tenant)
    if backend_api(assistant.credential) != "chat_completions" and thread.remote_id is None:
        conn = connection_for(assistant.credential)  # the provider keeps this thread's history from now on
        thread.remote_id = openai_adapter.create_remote_thread(conn)
        db.session.commit()
    token, position = _lock(thread)
    try:
        position += 1
        for offset, message in enumerate(fields.get("additional_messages") or ()):
            db.session.add(_message_row(thread, position + offset, message))
        instructions = fields.get("instructions")
        if instructions is None:
            instructions = assistant.instructions
        if fields.get("additional_instructions"):
            instructions = "\n\n".join(filter(None, (instructions, fields["additional_instructions"])))
        tools = fields.get("tools")
        run = Run(tenant=tenant(), thread_id=thread.id, assistant=assistant, status="queued",
                  turn_token=token,
                  assistant_public_id=assistant.details_id,
                  model=fields.get("model") or assistant.model, instructions=instructions,
                  tools=assistants_v2.v2_tools(assistant.details) if tools is None else tools,
                  options={name: fields[name] for name in OPTIONS if fields.get(name) is not None},
                  run_metadata=fields.get("metadata") or {}, created_at=utcnow(),
                  api_key_id=caller.api_key_id)
        run.expires_at = run.created_at + stale_after()
        db.session.add(run)
        commit_keeping_loaded()  # presented at once, without reading it again
    except BaseException:
        turn_lock.free(thread.id, token)
        raise
    return run


def turn_input(run: Run, thread: Thread, tool_outputs: list[dict] | None = None) -> TurnInput:
    """What the turn pipeline sends for this run."""
    options = run.options or {}
    unsent = []
    if backend_api(run.assistant.credential) != "chat_completions" and not tool_outputs:
        unsent = _unsent(thread, run.assistant)
    response_format = options.get("response_format")
    return TurnInput(messages=None if tool_outputs else [], tool_outputs=tool_outputs or [], model=run.model,
                     instructions=run.instructions, temperature=options.get("temperature"),
                     top_p=options.get("top_p"), max_tokens=options.get("max_completion_tokens"),
                     tools=[tool for tool in run.tools if tool.get("type") == "function"],
                     options={"tool_choice": options.get("tool_choice"),
                              "parallel_tool_calls": options.get("parallel_tool_calls"),
                              "reasoning_effort": options.get("reasoning_effort"),
                              "response_format": None if response_format == "auto" else response_format},
                     truncation=options.get("truncation_strategy"),
                     max_prompt_tokens=options.get("max_prompt_tokens"),
                     stored_unsent=unsent, stamp={"run_id": run.id, "assistant_id": run.assistant_id},
                     server_tools=run_tools.server_tools(run, thread))


def _unsent(thread: Thread, assistant) -> list:
    """The messages after the last reply: those a provider keeping the history has not seen."""
    rows = list(thread.messages)
    last_reply = max((i for i, row in enumerate(rows) if row.role == "assistant" and row.run_id), default=-1)
    return [as_chat(row, assistant) for row in rows[last_reply + 1:] if row.role in ("user", "assistant")]


def get(thread: Thread, run_id: str) -> Run:
    run = None
    if is_plausible_id(run_id):
        run = db.session.scalar(select(Run).where(Run.id == run_id, Run.thread_id == thread.id,
                                                  Run.tenant == tenant()))
    if run is None:
        raise ServiceError(404, f"No run found with id '{run_id[:128]}'.")
    check_stale(run)
    return run


def check_stale(run: Run) -> None:
    """A run that stopped moving: failed (its worker died) or expired (no tool outputs came)."""
    now = utcnow()
    # An active run's worker renews expires_at while it waits for a slot and while it runs.
    if run.status in ("queued", "in_progress") and (run.expires_at or run.created_at + stale_after()) < now:
        end(run, "failed", {"code": "server_error", "message": "The worker running this run stopped "
                                                               "before it finished; the thread is usable "
                                                               "again."})
    elif run.status == "requires_action" and run.expires_at is not None and run.expires_at < now:
        end(run, "expired")


def end(run: Run, status: str, last_error: dict | None = None) -> bool:
    """Move an active run to a final status (if no one else did meanwhile) and free its thread."""
    stamp = {"failed": "failed_at", "cancelled": "cancelled_at", "expired": None}[status]
    values = {"status": status, "turn_token": None, "required_action": None, "last_error": last_error}
    if stamp:
        values[stamp] = utcnow()
    done = db.session.execute(update(Run).where(Run.id == run.id, Run.status == run.status).values(**values)
                              .execution_options(synchronize_session=False)).rowcount == 1
    if done:
        free_thread(run)
    db.session.refresh(run)
    commit_keeping_loaded()  # presented next, without a transaction open
    return done


def cancel(run: Run) -> Run:
    # The run may move on between the read and the write (queued -> in_progress as its worker starts
    # it): end() then re-reads it, and the cancel is tried again from where the run now is.
    for _ in range(3):
        if run.status not in ("queued", "in_progress", "requires_action"):
            break
        if end(run, "cancelled") or run.status == "cancelled":  # ours, or another request's
            return run
    raise ServiceError(400, f"Cannot cancel run with status '{run.status}'.")


def resume(caller: Caller, thread: Thread, run: Run, tool_outputs: list[dict]) -> str:
    """Submitted tool outputs: the run queued again, holding the thread's lock; the lock's token. The
    budget is checked here, as for a new run (the resumed turn checks it again)."""
    tenant_limits.check_budget(caller)
    if run.status != "requires_action":
        raise ServiceError(400, f"Runs in status '{run.status}' do not accept tool outputs.")
    calls = {call["id"] for call in run.required_action["submit_tool_outputs"]["tool_calls"]}
    given = [output["tool_call_id"] for output in tool_outputs]
    if set(given) != calls or len(given) != len(calls):
        raise ServiceError(400, "tool_outputs must answer each tool call of required_action exactly once: "
                                + ", ".join(sorted(calls)))
    try:
        token, _ = turn_lock.take(thread)
    except Conflict:
        raise ActiveRun(thread.id, run.id) from None
    moved = db.session.execute(update(Run).where(Run.id == run.id, Run.status == "requires_action").values(
        status="queued", required_action=None, turn_token=token, expires_at=utcnow() + stale_after(),
        started_at=None).execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        turn_lock.free(thread.id, token)
        raise ServiceError(400, "This run no longer accepts tool outputs.")
    db.session.refresh(run)
    commit_keeping_loaded()
    return token


def listed(thread: Thread, params: dict) -> dict:
    query = select(Run).where(Run.thread_id == thread.id, Run.tenant == tenant())

    def cursor_of(run_id):
        row = db.session.scalar(query.where(Run.id == run_id)) if is_plausible_id(run_id) else None
        return (row.created_at, row.id) if row is not None else None

    found = pages.page(query, (Run.created_at, Run.id), cursor_of, params)
    for run in found.rows:
        check_stale(run)
    return listing(found.rows, found.has_more)  # the route dumps them (RunV2Schema)
