"""POST /v1/responses/compact: a response's context (its input, or a previous_response_id chain and new
input) summarised by the model asked for, in a turn of the pipeline like any response's (the tenant's
budget, provider, usage row), into one compaction item (compaction.py) that a later response takes as
input in place of all of it.

    compacted = compact.compact(fields)    # the response.compaction object; nothing stored but usage"""
from ...models import new_token_id, utcnow
from .. import turns
from ..tenant_limits import Caller
from . import compaction, request
from .present import timestamp, usage_object

API = "responses"
ASK = ("Summarise the conversation above so that it can be continued from the summary alone: every "
       "fact, name, number, decision, instruction and open request, in the order they came. Write only the "
       "summary.")
NO_USAGE = {"input_tokens": 0, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 0,
            "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 0}


def compact(fields: dict) -> dict:
    given = fields.get("input") or []
    if not given and not fields.get("previous_response_id"):
        raise request.invalid("input", "Nothing to compact: send input, or a previous_response_id.")
    if isinstance(given, str):
        given = [{"type": "message", "role": "user", "content": given}]
    plan = request.plan({**fields, "input": [*given, {"type": "message", "role": "user", "content": ASK}]})
    outcome = turns.complete(Caller.of_request(API), plan.assistant, plan.turn)
    return {"id": new_token_id("resp_"), "object": "response.compaction", "created_at": timestamp(utcnow()),
            "output": [compaction.seal(outcome.done.text)],
            "usage": usage_object(outcome.done.usage) or NO_USAGE}
