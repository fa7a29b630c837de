"""The agents API's POST /{agent_id}/chat/completions: an OpenAI chat-completion request and
response, plus `create_session` / `store_in_session` and the reply's `session_id`."""
from marshmallow import ValidationError, fields, validate, validates_schema

from .chat import UsageSchema
from .common import FunctionToolDefinition, StrictSchema
from .generation import ChatOptionsSchema, Metadata

MAX_TEXT = 1_000_000
ROLES = ("system", "developer", "user", "assistant", "tool")


class MessageContent(fields.Field):
    """A message's content: a string, or a list of text parts (joined); null only where OpenAI allows it."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list):
            texts = []
            for part in value:
                if (not isinstance(part, dict) or part.get("type") != "text"
                        or not isinstance(part.get("text"), str)):
                    raise ValidationError('Only text content is supported: a string or '
                                          '[{"type": "text", "text": ...}].')
                texts.append(part["text"])
            value = "".join(texts)
        if not isinstance(value, str):
            raise ValidationError("Not a valid string (nor a list of text parts).")
        if len(value) > MAX_TEXT:
            raise ValidationError(f"Longer than maximum length {MAX_TEXT}.")
        return value


class FunctionCallSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    arguments = fields.String(required=True, validate=validate.Length(max=MAX_TEXT))


class MessageToolCallSchema(StrictSchema):
    id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    type = fields.String(load_default="function", validate=validate.OneOf(("function",)))
    function = fields.Nested(FunctionCallSchema, required=True)


class ChatMessageSchema(StrictSchema):
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    content = MessageContent(allow_none=True, load_default=None)
    name = fields.String(validate=validate.Length(max=64), metadata={"description": "Accepted and ignored."})
    tool_calls = fields.List(fields.Nested(MessageToolCallSchema), validate=validate.Length(min=1, max=128))
    tool_call_id = fields.String(validate=validate.Length(min=1, max=128))

    @validates_schema
    def check_role_fields(self, data, **kwargs):
        role = data["role"]
        if role == "tool" and not data.get("tool_call_id"):
            raise ValidationError("A tool message needs tool_call_id.", "tool_call_id")
        if role != "tool" and "tool_call_id" in data:
            raise ValidationError("Only a tool message has tool_call_id.", "tool_call_id")
        if role != "assistant" and "tool_calls" in data:
            raise ValidationError("Only an assistant message has tool_calls.", "tool_calls")
        if data.get("content") is None and not (role == "assistant" and data.get("tool_calls")):
            raise ValidationError("Missing content.", "content")


class FunctionToolSchema(StrictSchema):
    type = fields.String(required=True, validate=validate.OneOf(("function",)))
    function = fields.Nested(FunctionToolDefinition, required=True)


class StopField(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        values = [value] if isinstance(value, str) else value
        if (not isinstance(values, list) or not 1 <= len(values) <= 4
                or not all(isinstance(v, str) and 0 < len(v) <= 256 for v in values)):
            raise ValidationError("Must be a string or a list of 1 to 4 strings.")
        return value


class StreamOptionsSchema(StrictSchema):
    include_usage = fields.Boolean(load_default=False)


def _optional_int(low: int, high: int) -> fields.Integer:
    return fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=low, max=high))


class ChatCompletionRequestSchema(ChatOptionsSchema):
    """Every field of OpenAI's chat-completion request: the generation options go to the provider,
    metadata and store are accepted (a turn is stored only in a session: create_session, store_in_session)."""

    messages = fields.List(fields.Nested(ChatMessageSchema), required=True,
                           validate=validate.Length(min=1, max=1000))
    model = fields.String(validate=validate.Length(min=1, max=256), allow_none=True,
                          metadata={"description": "Optional; when given, it must be the agent's model."})
    stream = fields.Boolean(load_default=False, allow_none=True)
    stream_options = fields.Nested(StreamOptionsSchema, allow_none=True)
    temperature = fields.Float(validate=validate.Range(min=0, max=2), allow_none=True)
    top_p = fields.Float(validate=validate.Range(min=0, max=1), allow_none=True)
    max_tokens = _optional_int(1, 2_147_483_647)
    max_completion_tokens = _optional_int(1, 2_147_483_647)
    stop = StopField(allow_none=True)
    seed = _optional_int(-(2 ** 63), 2 ** 63 - 1)
    n = _optional_int(1, 1)
    tools = fields.List(fields.Nested(FunctionToolSchema), validate=validate.Length(max=128), allow_none=True)
    metadata = Metadata(metadata={"description": "Accepted; not sent to the provider."})
    store = fields.Boolean(allow_none=True, metadata={
        "description": "Accepted; a turn is stored only in a session (create_session, store_in_session)."})
    create_session = fields.Boolean(load_default=False, allow_none=True,
                                    metadata={"description": "Start a session: the reply's session_id "
                                                             "continues it."})
    store_in_session = fields.String(validate=validate.Length(min=1, max=128), allow_none=True,
                                     metadata={"description": "A session_id: its history goes to the "
                                                              "model first, and this turn is added to it."})

    @validates_schema
    def one_session_option(self, data, **kwargs):
        if data.get("create_session") and data.get("store_in_session"):
            raise ValidationError("Send create_session or store_in_session, not both.", "store_in_session")


class CompletionToolCallSchema(StrictSchema):
    id = fields.String()
    type = fields.String()
    function = fields.Dict()


class CompletionMessageSchema(StrictSchema):
    role = fields.String()
    content = fields.String(allow_none=True)
    tool_calls = fields.List(fields.Nested(CompletionToolCallSchema))


class CompletionChoiceSchema(StrictSchema):
    index = fields.Integer()
    message = fields.Nested(CompletionMessageSchema)
    finish_reason = fields.String()
    logprobs = fields.Dict(allow_none=True)


class ChatCompletionSchema(StrictSchema):
    """OpenAI's chat.completion (streamed: chat.completion.chunk events, then `data: [DONE]`)."""

    id = fields.String()
    object = fields.String(metadata={"example": "chat.completion"})
    created = fields.Integer()
    model = fields.String()
    choices = fields.List(fields.Nested(CompletionChoiceSchema))
    usage = fields.Nested(UsageSchema)
    session_id = fields.String(allow_none=True,
                               metadata={"description": "The session this turn was stored in."})
