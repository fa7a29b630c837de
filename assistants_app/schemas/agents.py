"""The agents API (VMware Private AI Services' OpenAI compatibility, seed 003): snake_case,
unix `created_at`, `object` tags, update by POST, and FastAPI's {"detail": ...} errors.

Limits follow the seed's source (which copies OpenAI's Assistants API): name 256, description
512, instructions 256,000 characters; metadata at most 16 pairs, keys 64, values 512."""
from marshmallow import fields, validate

from .common import StrictSchema

# PostgreSQL's INTEGER: larger values would fail in the database instead of here.
MAX_INT = 2_147_483_647
STRATEGIES = ("delete_oldest", "summarize")
INSTRUCTION_MODES = ("system-message", "user-message")
METADATA_PAIRS = 16

METADATA_DESCRIPTION = ("Set of up to 16 key-value pairs attached to this agent (keys up to 64 characters, "
                        "values up to 512). To delete a key from the agent metadata, set its value to null.")


class AgentToolSchema(StrictSchema):
    link_type = fields.String(required=True, validate=validate.Length(min=1, max=64))
    tool_id = fields.String(required=True, validate=validate.Length(min=1, max=256))


def _metadata(allow_null_values: bool) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=64)),
        values=fields.String(validate=validate.Length(max=512), allow_none=allow_null_values),
        validate=validate.Length(max=METADATA_PAIRS, error="At most 16 metadata pairs are allowed."),
        attribute="agent_metadata",
        metadata={"description": METADATA_DESCRIPTION},
    )


def _positive(description: str, **kwargs) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_INT), allow_none=True,
                          metadata={"description": description}, **kwargs)


class AgentFieldsSchema(StrictSchema):
    """What a client may set (create and update)."""

    name = fields.String(validate=validate.Length(max=256), allow_none=True,
                         metadata={"description": "Name of the agent."})
    description = fields.String(validate=validate.Length(max=512), allow_none=True,
                                metadata={"description": "Description of the agent."})
    instructions = fields.String(validate=validate.Length(max=256_000), allow_none=True,
                                 metadata={"description": "System instructions used by the agent."})
    model = fields.String(validate=validate.Length(min=1, max=256),
                          metadata={"description": "ID of the model to be used by the agent."})
    session_max_ttl = _positive("Agent sessions that have not been written to within this many seconds "
                                "expire (404) and are deleted by `flask threads purge`. null: never.")
    completion_role = fields.String(validate=validate.Length(min=1, max=64), allow_none=True,
                                    metadata={"description": "Response role for completions (deprecated)."})
    tools = fields.List(fields.Nested(AgentToolSchema), validate=validate.Length(max=128),
                        attribute="agent_tools",
                        metadata={"description": "A list of tools to be used by the agent (stored)."})
    index_id = fields.UUID(allow_none=True,
                           metadata={"description": "Index to be used by the agent (stored)."})
    index_top_n = _positive("Top N chunks to request from the index (stored).")
    index_similarity_cutoff = fields.Float(validate=validate.Range(min=0, max=1), allow_none=True,
                                           metadata={"description": "Chunk similarity cutoff, 0-1 (stored)."})
    index_reference_format = fields.String(validate=validate.Length(max=256), allow_none=True)
    index_reference_delimiter = fields.String(validate=validate.Length(max=256), allow_none=True)
    session_max_length = _positive("Characters of session history the provider may see; past it the history "
                                   "is reduced by session_summarization_strategy. null: no limit.")
    session_summarization_strategy = fields.String(validate=validate.OneOf(STRATEGIES))
    chat_system_instruction_mode = fields.String(
        validate=validate.OneOf(INSTRUCTION_MODES),
        metadata={"description": "system-message: instructions as a system message; user-message: prepended "
                                 "to the first user message, for models without a system role."})
    credential = fields.String(
        attribute="credential_id", allow_none=True, validate=validate.Length(max=128),
        metadata={"description": "This service's extension: id of a stored credential; null uses the "
                                 "service's default provider."})


class AgentCreateSchema(AgentFieldsSchema):
    model = fields.String(required=True, validate=validate.Length(min=1, max=256),
                          metadata={"description": "ID of the model to be used by the agent."})
    metadata = _metadata(allow_null_values=False)
    tools = fields.List(fields.Nested(AgentToolSchema), validate=validate.Length(max=128),
                        attribute="agent_tools", load_default=list)
    completion_role = fields.String(validate=validate.Length(min=1, max=64), allow_none=True,
                                    load_default="assistant")
    session_summarization_strategy = fields.String(validate=validate.OneOf(STRATEGIES),
                                                   load_default="delete_oldest")
    chat_system_instruction_mode = fields.String(validate=validate.OneOf(INSTRUCTION_MODES),
                                                 load_default="system-message")


class AgentUpdateSchema(AgentFieldsSchema):
    """POST /{agent_id}: fields left out keep their values; metadata is merged."""

    metadata = _metadata(allow_null_values=True)


class UnixSeconds(fields.Integer):
    """A datetime as whole unix seconds."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else int(value.timestamp())


class AgentSchema(StrictSchema):
    """The seed's agent object, field for field (plus `credential`, this service's extension),
    read from the Assistant row: name, description, instructions and model live in its details."""

    name = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    instructions = fields.String(allow_none=True)
    session_max_ttl = fields.Integer(allow_none=True)
    completion_role = fields.String(allow_none=True)
    tools = fields.List(fields.Nested(AgentToolSchema), attribute="agent_tools")
    index_id = fields.String(allow_none=True)
    index_top_n = fields.Integer(allow_none=True)
    index_similarity_cutoff = fields.Float(allow_none=True)
    index_reference_format = fields.String(allow_none=True)
    index_reference_delimiter = fields.String(allow_none=True)
    session_max_length = fields.Integer(allow_none=True)
    session_summarization_strategy = fields.String()
    metadata = fields.Dict(keys=fields.String(), values=fields.String(), attribute="agent_metadata")
    id = fields.String()
    object = fields.Constant("agent", metadata={"example": "agent"})
    created_at = UnixSeconds(metadata={"description": "Unix seconds."})
    model = fields.String()
    status = fields.String(attribute="live_status",
                           metadata={"description": "AVAILABLE or UNAVAILABLE, checked at lookup."})
    status_errors = fields.List(fields.String(), attribute="live_status_errors",
                                metadata={"description": "Why the agent is unavailable."})
    chat_system_instruction_mode = fields.String()
    credential = fields.String(attribute="credential_id", allow_none=True)


class AgentListQuerySchema(StrictSchema):
    after = fields.String(validate=validate.Length(min=1, max=128),
                          metadata={"description": "An agent id: list the agents after it."})
    before = fields.String(validate=validate.Length(min=1, max=128),
                           metadata={"description": "An agent id: list the agents before it."})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=999))
    order = fields.String(load_default="asc", validate=validate.OneOf(("asc", "desc")),
                          metadata={"description": "By created_at."})
    set_num_objects = fields.Boolean(load_default=False,
                                     metadata={"description": "Fill num_objects with the total count."})
    name = fields.String(validate=validate.Length(max=256),
                         metadata={"description": "Only agents of this name."})


class AgentListSchema(StrictSchema):
    object = fields.String(metadata={"example": "list"})
    data = fields.List(fields.Nested(AgentSchema))
    first_id = fields.String(allow_none=True)
    last_id = fields.String(allow_none=True)
    has_more = fields.Boolean()
    num_objects = fields.Integer(allow_none=True, metadata={"description": "Only with set_num_objects=true."})


class AgentDeletedSchema(StrictSchema):
    id = fields.String()
    object = fields.String(metadata={"example": "agent.deleted"})
    deleted = fields.Boolean()


class DetailSchema(StrictSchema):
    detail = fields.String(metadata={"example": "No agent found with the specified ID."})


class ValidationErrorItemSchema(StrictSchema):
    loc = fields.List(fields.Raw(), metadata={"example": ["body", "metadata"]})
    msg = fields.String()
    type = fields.String()


class ValidationErrorSchema(StrictSchema):
    detail = fields.List(fields.Nested(ValidationErrorItemSchema))
