"""A response's turn as the Responses API's stream events, numbered by sequence_number in the documented
order: response.created, response.in_progress, then per output item output_item.added, (a message)
content_part.added, output_text.delta..., output_text.done, content_part.done, (a function call)
function_call_arguments.delta..., function_call_arguments.done, and output_item.done; then
response.completed, .incomplete or .failed (or an error event).

    events = ResponseEvents(draft)                # draft: the ids the record will store (Draft)
    events.begun(response)                        # created, in_progress
    for event in turn_stream: events.on(event)    # as the reply arrives
    events.ended(final_response)                  # the open items' done events, then the final event

Each method returns the events it made, as dicts; nothing here touches the database."""
from dataclasses import dataclass, field

from ...models import new_token_id
from ...openai_adapter import TextDelta, ToolCallDelta
from ..server_tools import ServerToolCalled
from . import file_search


@dataclass
class Draft:
    """The ids of a response's output items, fixed as they are streamed and then stored with them."""

    message_id: str = field(default_factory=lambda: new_token_id("msg_"))
    call_ids: dict[int, str] = field(default_factory=dict)  # a call's index -> its item id
    searches: list[dict] = field(default_factory=list)  # the file_search calls run (request.Plan.searches)
    before: list[dict] = field(default_factory=list)  # streamed: the output items before the reply's own

    def call_id(self, index: int) -> str:
        return self.call_ids.setdefault(index, new_token_id("fc_"))


class ResponseEvents:
    def __init__(self, draft: Draft):
        self.draft = draft
        self.number = 0
        self.output_count = 0
        self.message: dict | None = None  # the open message item and its output index
        self.text: list[str] = []
        self.calls: dict[int, dict] = {}  # a call's index -> its item, output index and arguments so far

    def event(self, kind: str, **fields) -> dict:
        made = {"type": kind, "sequence_number": self.number, **fields}
        self.number += 1
        return made

    def begun(self, response: dict) -> list[dict]:
        events = [self.event("response.created", response=response)]
        if response["status"] == "queued":
            events.append(self.event("response.queued", response=response))
        return events

    def in_progress(self, response: dict) -> list[dict]:
        return [self.event("response.in_progress", response=response)]

    def on(self, event) -> list[dict]:
        if isinstance(event, TextDelta):
            made = [] if self.message is not None else self._message_added()
            self.text.append(event.text)
            where = {"item_id": self.draft.message_id, "output_index": self.message["index"],
                     "content_index": 0}
            return made + [self.event("response.output_text.delta", **where, delta=event.text,
                                      logprobs=_logprobs(event.logprobs))]
        if isinstance(event, ToolCallDelta):
            made = self._message_done() if self.message is not None else []
            call = self.calls.get(event.index)
            if call is None:
                call = self.calls[event.index] = {"index": self._next_index(), "arguments": [],
                                                  "name": event.name, "call_id": event.id}
                item = {"type": "function_call", "id": self.draft.call_id(event.index), "call_id": event.id,
                        "name": event.name, "arguments": "", "status": "in_progress"}
                made.append(self.event("response.output_item.added", output_index=call["index"], item=item))
            if event.arguments:
                call["arguments"].append(event.arguments)
                made.append(self.event("response.function_call_arguments.delta",
                                       item_id=self.draft.call_id(event.index),
                                       output_index=call["index"], delta=event.arguments))
            return made
        if isinstance(event, ServerToolCalled) and "item" in event.result.details:
            made = []
            if self.message is not None:  # text before the call: an item of its own, the reply gets a new id
                made = self._message_done()
                self.draft.before.append(made[-1]["item"])
                self.draft.message_id = new_token_id("msg_")
            item, index = event.result.details["item"], self._next_index()
            self.draft.before.append(item)
            where = {"item_id": item["id"], "output_index": index}
            return made + [
                self.event("response.output_item.added", output_index=index,
                           item={**item, "status": "in_progress", "results": None}),
                self.event("response.file_search_call.in_progress", **where),
                self.event("response.file_search_call.searching", **where),
                self.event("response.file_search_call.completed", **where),
                self.event("response.output_item.done", output_index=index, item=item)]
        return []

    def ended(self, response: dict) -> list[dict]:
        """The done events of the items still open, then the response's final event."""
        made = self._message_done() if self.message is not None else []
        for number, call in sorted(self.calls.items()):
            item_id = self.draft.call_id(number)
            final = next((item for item in response["output"] if item.get("id") == item_id), None)
            arguments = final["arguments"] if final else "".join(call["arguments"])
            made.append(self.event("response.function_call_arguments.done", item_id=item_id,
                                   output_index=call["index"], name=call["name"], arguments=arguments))
            made.append(self.event("response.output_item.done", output_index=call["index"], item=final or {
                "type": "function_call", "id": item_id, "call_id": call["call_id"], "name": call["name"],
                "arguments": arguments, "status": "completed"}))
        self.calls = {}
        kind = {"completed": "response.completed", "incomplete": "response.incomplete",
                "failed": "response.failed", "cancelled": "response.failed"}[response["status"]]
        return made + [self.event(kind, response=response)]

    def _next_index(self) -> int:
        self.output_count += 1
        return self.output_count - 1

    def _message_added(self) -> list[dict]:
        self.message = {"index": self._next_index()}
        item = {"type": "message", "id": self.draft.message_id, "status": "in_progress", "role": "assistant",
                "content": []}
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        return [self.event("response.output_item.added", output_index=self.message["index"], item=item),
                self.event("response.content_part.added", item_id=self.draft.message_id,
                           output_index=self.message["index"], content_index=0, part=part)]

    def _message_done(self) -> list[dict]:
        index, text = self.message["index"], "".join(self.text)
        where = {"item_id": self.draft.message_id, "output_index": index}
        cited = file_search.annotations(text, self.draft.searches)
        part = {"type": "output_text", "text": text, "annotations": cited, "logprobs": []}
        item = {"type": "message", "id": self.draft.message_id, "status": "completed", "role": "assistant",
                "content": [part]}
        self.message = None
        added = [self.event("response.output_text.annotation.added", **where, content_index=0,
                            annotation_index=number, annotation=annotation)
                 for number, annotation in enumerate(cited)]
        return added + [
            self.event("response.output_text.done", **where, content_index=0, text=text, logprobs=[]),
            self.event("response.content_part.done", **where, content_index=0, part=part),
            self.event("response.output_item.done", output_index=index, item=item)]


def _logprobs(chat_logprobs: dict | None) -> list:
    """Chat Completions' logprobs of a piece ({"content": [...]}) as the Responses API's list."""
    if not chat_logprobs:
        return []
    return [{"token": entry.get("token"), "logprob": entry.get("logprob"), "bytes": entry.get("bytes"),
             "top_logprobs": entry.get("top_logprobs") or []} for entry in chat_logprobs.get("content") or ()]
