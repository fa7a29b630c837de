"""POST /v1/responses/input_tokens: how many tokens a request's context holds, estimated as the turn
pipeline estimates max_prompt_tokens (about 4 characters a token: no tokenizer of every provider's model
is here)."""
import json
import math

from sqlalchemy import select

from ...extensions import db
from ...models import Message
from ..thread_turn import CHARACTERS_PER_TOKEN
from . import request


def count(fields: dict) -> dict:
    plan = request.plan({**fields, "input": fields.get("input") or ""} if fields.get("conversation")
                        else fields)
    messages = list(plan.turn.messages or [])
    if plan.conversation is not None:
        rows = db.session.scalars(select(Message).where(Message.thread_id == plan.conversation.id))
        messages += [row for row in rows]
    size = len(plan.turn.instructions or "") + (len(json.dumps(plan.turn.tools)) if plan.turn.tools else 0)
    for message in messages:
        content = message.content
        size += len(content if isinstance(content, str) else json.dumps(content or ""))
        size += len(json.dumps(message.tool_calls)) if message.tool_calls else 0
    return {"object": "response.input_tokens", "input_tokens": math.ceil(size / CHARACTERS_PER_TOKEN)}
