"""Run steps, derived from a run and the messages it wrote (no table of their own): a
`message_creation` step for its reply, a `tool_calls` step for the function calls it made
(their outputs from the tool messages answering them), and one `tool_calls` step of type file_search
for each file_search call the service ran (the details its tool message keeps: server_tools.py).
Search results carry their text only when asked for (INCLUDE_CONTENT)."""
import hashlib

from sqlalchemy import select

from ...errors import ServiceError
from ...extensions import db
from ...models import Message, Run
from .. import pages
from . import listing, timestamp

# Same length as a message id's tail, so a step id says which message it comes from.
PREFIXES = {"message_creation": "step_", "tool_calls": "step_tc"}
INCLUDE_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"


def step_id(message_id: str, kind: str) -> str:
    return PREFIXES[kind] + message_id[len("msg_"):]


def run_ids(run: Run) -> dict:
    """What a step shows of its run (a presented run, runs.present(), has the same keys)."""
    return {"id": run.id, "assistant_id": run.assistant_public_id, "thread_id": run.thread_id,
            "created_at": timestamp(run.created_at)}


def step(run: dict, kind: str, message_id: str, status: str, created_at: int | None = None,
         completed_at: int | None = None, details: dict | None = None) -> dict:
    """A run step of ``run`` (run_ids() or a presented run); times in unix seconds."""
    return {
        "id": step_id(message_id, kind), "object": "thread.run.step",
        "created_at": created_at or run["created_at"],
        "run_id": run["id"], "assistant_id": run["assistant_id"], "thread_id": run["thread_id"], "type": kind,
        "status": status, "cancelled_at": None, "completed_at": completed_at, "expired_at": None,
        "failed_at": None, "last_error": None, "usage": None, "metadata": {},
        "step_details": details or {"type": kind, "message_creation": {"message_id": message_id}},
    }


def tool_calls_details(calls: list[dict], outputs: dict) -> dict:
    return {"type": "tool_calls", "tool_calls": [
        {"id": call["id"], "type": "function",
         "function": {"name": call["name"], "arguments": call["arguments"],
                      "output": outputs.get(call["id"])}}
        for call in calls]}


def file_search_step(run: dict, call_id: str, details: dict, status: str, at: int | None,
                     with_content: bool = False) -> dict:
    """The tool_calls step of one file_search call the service ran (its id derived from the call's)."""
    shown = (("file_id", "file_name", "score", "content") if with_content
             else ("file_id", "file_name", "score"))
    results = [{key: result[key] for key in shown if key in result}
               for result in details.get("results") or ()]
    found = step(run, "tool_calls", "msg_", status, at, at if status == "completed" else None, {
        "type": "tool_calls", "tool_calls": [{"id": call_id, "type": "file_search", "file_search": {
            "ranking_options": details.get("ranking_options") or {"ranker": "auto", "score_threshold": 0.0},
            "results": results}}]})
    found["id"] = "step_fs" + hashlib.sha256(call_id.encode()).hexdigest()[:24]
    return found


def derived(run: Run, with_content: bool = False) -> list[dict]:
    """The run's steps, oldest first."""
    rows = list(db.session.scalars(select(Message).where(Message.run_id == run.id)
                                   .order_by(Message.position)))
    outputs = {row.tool_call_id: row.content for row in rows if row.role == "tool"}
    served = {row.tool_call_id: row.message_metadata["details"] for row in rows
              if row.role == "tool" and (row.message_metadata or {}).get("server_tool") == "file_search"}
    ids, steps = run_ids(run), []
    for row in rows:
        if row.role != "assistant":
            continue
        at = timestamp(row.created_at)
        steps += [file_search_step(ids, call["id"], served[call["id"]], "completed", at, with_content)
                  for call in row.tool_calls or () if call["id"] in served]
        calls = [call for call in row.tool_calls or () if call["id"] not in served]
        if calls:
            answered = all(call["id"] in outputs for call in calls)
            status = ("completed" if answered
                      else ("in_progress" if run.status == "requires_action" else run.status))
            steps.append(step(ids, "tool_calls", row.id, status, at, at if answered else None,
                              tool_calls_details(calls, outputs)))
        if row.content is not None:
            steps.append(step(ids, "message_creation", row.id, "completed", at, at))
    return steps


def get(run: Run, wanted: str, with_content: bool = False) -> dict:
    for found in derived(run, with_content):
        if found["id"] == wanted:
            return found
    raise ServiceError(404, f"No run step found with id '{wanted[:128]}'.")


def listed(run: Run, params: dict, with_content: bool = False) -> dict:
    steps = derived(run, with_content)
    if params["order"] == "desc":
        steps.reverse()
    ids = [found["id"] for found in steps]
    start, stop = 0, len(steps)
    for name in ("after", "before"):
        if name in params:
            if params[name] not in ids:
                raise pages.unknown_cursor(name, params[name])
            if name == "after":
                start = ids.index(params[name]) + 1
            else:
                stop = ids.index(params[name])
    window = steps[start:stop]
    chosen = (window[-params["limit"]:] if "before" in params and "after" not in params
              else window[:params["limit"]])
    return listing(chosen, len(window) > len(chosen))
