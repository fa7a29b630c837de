"""A v2 run's turn, as the v2 stream's events, in the order OpenAI sends them (so that the SDKs'
handlers fire: on_text_delta, on_tool_call_created / delta / done, on_run_step_done, ...):

    events = RunEvents(run_view, message_id)      # run_view: runs.present(run), a plain dict
    for event in turn_stream: yield from events.on(event)
    yield from events.ended(outcome)

A reply's text: thread.run.step.created / in_progress (message_creation), thread.message.created /
in_progress, thread.message.delta..., thread.message.completed (or .incomplete), thread.run.step.completed.
A function call: thread.run.step.created (tool_calls, empty), thread.run.step.in_progress,
thread.run.step.delta carrying each call's index, id, type and name, then its arguments as they arrive;
then thread.run.requires_action. A file_search call the service ran: thread.run.step.created (its
tool_calls step, in_progress), thread.run.step.completed with its results; the reply's file_citation
annotations come with thread.message.completed. Everything here is built from plain values: no database
access."""
from typing import Iterator

from ...models import utcnow
from ...openai_adapter import TextDelta, ToolCallDelta
from ..retrieval.file_search import annotations
from ..server_tools import ServerToolCalled
from . import steps, timestamp


def message(run: dict, message_id: str, status: str, text: str | None = None, cited=()) -> dict:
    content = [] if text is None else [{"type": "text", "text": {"value": text, "annotations": list(cited)}}]
    now = timestamp(utcnow())
    return {"id": message_id, "object": "thread.message", "created_at": now, "thread_id": run["thread_id"],
            "status": status,
            "incomplete_details": {"reason": "max_tokens"} if status == "incomplete" else None,
            "completed_at": now if status == "completed" else None,
            "incomplete_at": now if status == "incomplete" else None, "role": "assistant", "content": content,
            "assistant_id": run["assistant_id"], "run_id": run["id"], "attachments": [], "metadata": {}}


def tool_step_done(run: dict, message_id: str, calls: list[dict], outputs: dict) -> dict:
    """The tool_calls step of the reply ``message_id``, completed with the outputs submitted for it."""
    now = timestamp(utcnow())
    return steps.step(run, "tool_calls", message_id, "completed", completed_at=now,
                      details=steps.tool_calls_details(calls, outputs))


class RunEvents:
    def __init__(self, run: dict, message_id: str):
        self.run, self.message_id = run, message_id
        self.parts: list[str] = []
        self.message_open = self.message_closed = self.tool_step_open = False
        self.searches: list[dict] = []  # the details of the file_search calls the service ran

    def on(self, event) -> Iterator[tuple[str, dict]]:
        if isinstance(event, TextDelta):
            if not self.message_open:
                yield from self._message_started()
            self.parts.append(event.text)
            yield "thread.message.delta", {"id": self.message_id, "object": "thread.message.delta", "delta": {
                "content": [{"index": 0, "type": "text", "text": {"value": event.text, "annotations": []}}]}}
        elif isinstance(event, ToolCallDelta):
            if self.message_open and not self.message_closed:  # text before the calls: its message ends first
                yield from self._message_ended("".join(self.parts), "completed")
            if not self.tool_step_open:
                yield from self._tool_step_started()
            yield "thread.run.step.delta", self._tool_call_delta(event)
        elif isinstance(event, ServerToolCalled) and event.call.name == "file_search":
            if self.message_open and not self.message_closed:
                yield from self._message_ended("".join(self.parts), "completed")
            details = event.result.details
            self.searches.append(details)
            yield "thread.run.step.created", steps.file_search_step(self.run, event.call.id, {
                **details, "results": []}, "in_progress", timestamp(utcnow()))
            yield "thread.run.step.completed", steps.file_search_step(self.run, event.call.id, details,
                                                                      "completed", timestamp(utcnow()))

    def ended(self, done, run: dict, incomplete: bool) -> Iterator[tuple[str, dict]]:
        """The events after the turn was recorded; ``run``: the run as it now is."""
        self.run = run
        if (done.text or not done.tool_calls) and not self.message_closed:
            if not self.message_open:
                yield from self._message_started()
            yield from self._message_ended(done.text, "incomplete" if incomplete else "completed")
        if done.tool_calls:
            if not self.tool_step_open:  # a provider that sent no deltas (a blocking backend)
                yield from self._tool_step_started()
                for index, call in enumerate(done.tool_calls):
                    yield "thread.run.step.delta", self._tool_call_delta(
                        ToolCallDelta(index, call.id, call.name, call.arguments))
            yield "thread.run.requires_action", run
        else:
            yield ("thread.run.incomplete" if run["status"] == "incomplete" else "thread.run.completed"), run

    def _message_started(self) -> Iterator[tuple[str, dict]]:
        self.message_open = True
        step = steps.step(self.run, "message_creation", self.message_id, "in_progress")
        yield "thread.run.step.created", step
        yield "thread.run.step.in_progress", step
        yield "thread.message.created", message(self.run, self.message_id, "in_progress")
        yield "thread.message.in_progress", message(self.run, self.message_id, "in_progress")

    def _message_ended(self, text: str, status: str) -> Iterator[tuple[str, dict]]:
        self.message_closed = True
        yield f"thread.message.{status}", message(self.run, self.message_id, status, text,
                                                  annotations(text, self.searches))
        yield "thread.run.step.completed", steps.step(self.run, "message_creation", self.message_id,
                                                      "completed", completed_at=timestamp(utcnow()))

    def _tool_step_started(self) -> Iterator[tuple[str, dict]]:
        self.tool_step_open = True
        step = steps.step(self.run, "tool_calls", self.message_id, "in_progress",
                          details={"type": "tool_calls", "tool_calls": []})
        yield "thread.run.step.created", step
        yield "thread.run.step.in_progress", step

    def _tool_call_delta(self, delta: ToolCallDelta) -> dict:
        function = {"arguments": delta.arguments}
        call = {"index": delta.index, "type": "function", "function": function}
        if delta.id is not None:
            call["id"] = delta.id
        if delta.name is not None:
            function.update(name=delta.name, output=None)
        return {"id": steps.step_id(self.message_id, "tool_calls"), "object": "thread.run.step.delta",
                "delta": {"step_details": {"type": "tool_calls", "tool_calls": [call]}}}
