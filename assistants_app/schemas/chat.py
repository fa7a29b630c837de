"""The conversations API (routes.openai_routes, seed 004): plain {agent_id, thread_id, ...} bodies."""
from marshmallow import ValidationError, fields, validate, validates_schema

from .common import StrictSchema

ID = validate.Length(min=1, max=128)


class AgentIdSchema(StrictSchema):
    agent_id = fields.String(required=True, validate=ID,
                             metadata={"description": "The assistant's id, or its details.id (asst_...)."})


class InitializeResponseSchema(StrictSchema):
    message = fields.String(metadata={"example": "Assistant initialized"})
    thread_id = fields.String()
    agent_id = fields.String()


class ToolOutputSchema(StrictSchema):
    tool_call_id = fields.String(required=True, validate=ID)
    output = fields.String(required=True, validate=validate.Length(max=1_000_000))


class ChatRequestSchema(StrictSchema):
    user_input = fields.String(validate=validate.Length(min=1, max=1_000_000),
                               metadata={"description": "The user's message (`message` is accepted too)."})
    message = fields.String(validate=validate.Length(min=1, max=1_000_000),
                            metadata={"description": "Alias of user_input."})
    agent_id = fields.String(required=True, validate=ID)
    thread_id = fields.String(required=True, validate=ID)
    stream = fields.Boolean(load_default=False,
                            metadata={"description": "true: answer text/event-stream (delta, done | error "
                                                     "events)."})
    tool_outputs = fields.List(fields.Nested(ToolOutputSchema), validate=validate.Length(min=1, max=128),
                               metadata={"description": "Answers to the tool_calls of a requires_action "
                                                        "reply."})

    @validates_schema
    def one_input(self, data, **kwargs):
        given = [name for name in ("user_input", "message", "tool_outputs") if name in data]
        if len(given) != 1:
            raise ValidationError("Send exactly one of user_input (or its alias message) and tool_outputs.",
                                  "user_input")


class UsageSchema(StrictSchema):
    prompt_tokens = fields.Integer()
    completion_tokens = fields.Integer()
    total_tokens = fields.Integer()


class ToolCallSchema(StrictSchema):
    id = fields.String()
    name = fields.String()
    arguments = fields.String(metadata={"description": "JSON-encoded arguments, as the model wrote them."})


class ChatResponseSchema(StrictSchema):
    message = fields.String(metadata={"example": "Retrieved response"})
    response = fields.String(metadata={"description": "The assistant's reply ('' when it calls tools)."})
    thread_id = fields.String()
    agent_id = fields.String()
    message_id = fields.String(metadata={"description": "Id of the stored reply message."})
    usage = fields.Nested(UsageSchema, allow_none=True)
    status = fields.String(metadata={"description": "completed, or requires_action: answer tool_calls "
                                                    "with tool_outputs in the next /openai/chat."})
    tool_calls = fields.List(fields.Nested(ToolCallSchema))


class DeleteAgentResponseSchema(StrictSchema):
    message = fields.String()
    agent_id = fields.String()


class ModelsQuerySchema(StrictSchema):
    credential = fields.String(validate=ID, metadata={"description": "Ask this credential's provider "
                                                                     "(default: the service's own)."})


class ModelsResponseSchema(StrictSchema):
    models = fields.List(fields.String())


class ThreadMessageSchema(StrictSchema):
    id = fields.String()
    role = fields.String()
    content = fields.String(allow_none=True)
    created_at = fields.Function(lambda message: int(message.created_at.timestamp()),
                                 metadata={"description": "Unix seconds."})
    tool_calls = fields.List(fields.Dict(), allow_none=True)
    tool_call_id = fields.String(allow_none=True)


class ThreadMessagesSchema(StrictSchema):
    object = fields.Constant("list")
    data = fields.List(fields.Nested(ThreadMessageSchema))
    has_more = fields.Boolean(metadata={"description": "More messages follow: ask again with after=last_id."})
    last_id = fields.String(allow_none=True)


class ThreadMessagesQuerySchema(StrictSchema):
    after = fields.String(validate=ID, metadata={"description": "The id of the message to continue after."})
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=1000),
                           metadata={"description": "At most this many messages; a page also stops before "
                                                    "MAX_PAGE_BYTES of content."})


class ThreadDeletedSchema(StrictSchema):
    id = fields.String()
    object = fields.Constant("thread.deleted")
    deleted = fields.Constant(True)
