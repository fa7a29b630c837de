"""The Responses API's requests: POST /v1/responses (and input_tokens), the input items, and the list queries.
Responses are plain dicts built by services/responses/present.py; their schema here documents them."""
from collections.abc import Mapping

from marshmallow import ValidationError, fields, validate, validates_schema

from .common import StrictSchema
from .generation import REASONING_EFFORTS, SERVICE_TIERS, Metadata
from .v2.vector_stores import Filter

MAX_TEXT = 1_000_000
ROLES = ("user", "assistant", "system", "developer")
PHASES = ("commentary", "final_answer")  # an assistant message's: intermediate commentary, or the answer
MAX_COMPACTION = 10_485_760  # characters of a compaction item's encrypted_content, as the specification says
# Item types kept as they come (an earlier output sent back as input): not sent to a chat provider.
KEPT = ("reasoning", "file_search_call")


def _text(value, where: str) -> None:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise ValidationError(f"{where} must be a string of at most {MAX_TEXT} characters.")


class InputItem(fields.Field):
    """One input item: a message (content a string or parts; an assistant's with its phase), function_call,
    function_call_output, item_reference, a compaction (POST /v1/responses/compact's); an earlier output's
    reasoning or file_search_call item is accepted. Extra keys of an
    item (its status, an output part's annotations) are kept as they come: clients send outputs back."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, Mapping):
            raise ValidationError("An input item is an object.")
        item = dict(value)
        kind = item.get("type") or "message"
        if kind == "message":
            if item.get("role") not in ROLES:
                raise ValidationError(f"A message's role is one of {', '.join(ROLES)}.")
            if item.get("phase") is not None and (item["role"] != "assistant" or item["phase"] not in PHASES):
                raise ValidationError(f"phase labels an assistant message: one of {', '.join(PHASES)}.")
            content = item.get("content")
            if isinstance(content, str):
                _text(content, "content")
            elif isinstance(content, list) and all(isinstance(part, Mapping)
                                                   and isinstance(part.get("type"), str)
                                                   for part in content):
                for part in content:
                    if part["type"] in ("input_text", "output_text"):
                        _text(part.get("text"), f"An {part['type']} part's text")
            else:
                raise ValidationError("A message's content is a string or a list of content parts.")
        elif kind == "function_call":
            for name in ("call_id", "name", "arguments"):
                _text(item.get(name), f"A function_call's {name}")
        elif kind == "function_call_output":
            _text(item.get("call_id"), "A function_call_output's call_id")
            if not isinstance(item.get("output"), (str, list)):
                raise ValidationError("A function_call_output's output is a string or a list of parts.")
        elif kind == "compaction":
            sealed = item.get("encrypted_content")
            if not isinstance(sealed, str) or len(sealed) > MAX_COMPACTION:
                raise ValidationError("A compaction item's encrypted_content is the string "
                                      "/v1/responses/compact answered.")
        elif kind == "item_reference":
            _text(item.get("id"), "An item_reference's id")
        elif kind not in KEPT:
            raise ValidationError(f"Unsupported item type {kind!r}.")
        return item


class InputField(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            _text(value, "input")
            return value
        if not isinstance(value, list) or len(value) > 2048:
            raise ValidationError("input is a string or a list of at most 2048 items.")
        return [InputItem().deserialize(item) for item in value]


class ConversationField(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        conversation_id = value.get("id") if isinstance(value, Mapping) else value
        if not isinstance(conversation_id, str) or not 0 < len(conversation_id) <= 128:
            raise ValidationError('A conversation id, or {"id": <conversation id>}.')
        return conversation_id


class FileSearchRankingSchema(StrictSchema):
    ranker = fields.String(validate=validate.Length(max=64), allow_none=True)
    score_threshold = fields.Float(validate=validate.Range(min=0, max=1), allow_none=True)
    hybrid_search = fields.Dict(allow_none=True, metadata={
        "description": "Accepted; keyword and vector rankings are fused by reciprocal rank, equally "
                       "weighted."})


class FileSearchToolSchema(StrictSchema):
    """{"type": "file_search", ...}: the service searches these vector stores of the tenant itself."""

    type = fields.String(required=True)
    vector_store_ids = fields.List(fields.String(validate=validate.Length(min=1, max=128)), required=True,
                                   validate=validate.Length(min=1, max=8))
    max_num_results = fields.Integer(validate=validate.Range(min=1, max=50), allow_none=True)
    ranking_options = fields.Nested(FileSearchRankingSchema, allow_none=True)
    filters = Filter()


class ToolField(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, Mapping) or not isinstance(value.get("type"), str):
            raise ValidationError("A tool is an object with a type.")
        if value["type"] == "function" and not isinstance(value.get("name"), str):
            raise ValidationError("A function tool has a name.")
        if value["type"] == "file_search":
            return FileSearchToolSchema().load(value)
        return dict(value)


class ToolChoiceField(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        if value in ("none", "auto", "required"):
            return value
        if isinstance(value, Mapping) and isinstance(value.get("type"), str):
            if value["type"] == "function" and not isinstance(value.get("name"), str):
                raise ValidationError('A function tool_choice is {"type": "function", "name": ...}.')
            return dict(value)
        raise ValidationError('Must be "none", "auto", "required" or a tool object.')


class TextFormatSchema(StrictSchema):
    type = fields.String(required=True, validate=validate.OneOf(("text", "json_object", "json_schema")))
    name = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,64}$"))
    schema = fields.Dict()
    strict = fields.Boolean(allow_none=True)
    description = fields.String(allow_none=True)

    @validates_schema
    def json_schema_named(self, data, **kwargs):
        if data["type"] == "json_schema" and not (data.get("name") and data.get("schema") is not None):
            raise ValidationError("A json_schema format has a name and a schema.", "name")


class TextSchema(StrictSchema):
    format = fields.Nested(TextFormatSchema)
    verbosity = fields.String(validate=validate.OneOf(("low", "medium", "high")), allow_none=True)


class ReasoningSchema(StrictSchema):
    effort = fields.String(validate=validate.OneOf(REASONING_EFFORTS), allow_none=True)
    summary = fields.String(allow_none=True)
    generate_summary = fields.String(allow_none=True)


class PromptSchema(StrictSchema):
    id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    variables = fields.Dict(keys=fields.String(validate=validate.Length(max=128)), allow_none=True)
    version = fields.String(allow_none=True)


def _optional(field_class, **kwargs):
    return field_class(allow_none=True, **kwargs)


class ResponseContextSchema(StrictSchema):
    """What decides a response's context: POST /v1/responses/input_tokens takes this alone."""

    model = _optional(fields.String, validate=validate.Length(min=1, max=256))
    input = InputField(allow_none=True)
    instructions = _optional(fields.String, validate=validate.Length(max=256_000))
    tools = _optional(fields.List, cls_or_instance=ToolField(), validate=validate.Length(max=128))
    conversation = ConversationField(allow_none=True)
    previous_response_id = _optional(fields.String, validate=validate.Length(min=1, max=128))
    prompt = fields.Nested(PromptSchema, allow_none=True)


class ResponseCreateSchema(ResponseContextSchema):
    background = _optional(fields.Boolean)
    include = _optional(fields.List, cls_or_instance=fields.String(validate=validate.Length(max=128)),
                        validate=validate.Length(max=16))
    max_output_tokens = _optional(fields.Integer, validate=validate.Range(min=1))
    max_tool_calls = _optional(fields.Integer, validate=validate.Range(min=1))
    metadata = Metadata()
    parallel_tool_calls = _optional(fields.Boolean)
    prompt_cache_key = _optional(fields.String, validate=validate.Length(max=512))
    prompt_cache_retention = _optional(fields.String, validate=validate.OneOf(("in_memory", "24h")))
    reasoning = fields.Nested(ReasoningSchema, allow_none=True)
    safety_identifier = _optional(fields.String, validate=validate.Length(max=512))
    service_tier = _optional(fields.String, validate=validate.OneOf(SERVICE_TIERS))
    store = _optional(fields.Boolean)
    stream = _optional(fields.Boolean)
    stream_options = _optional(fields.Dict)
    temperature = _optional(fields.Float, validate=validate.Range(min=0, max=2))
    text = fields.Nested(TextSchema, allow_none=True)
    tool_choice = ToolChoiceField(allow_none=True)
    top_logprobs = _optional(fields.Integer, validate=validate.Range(min=0, max=20))
    top_p = _optional(fields.Float, validate=validate.Range(min=0, max=1))
    truncation = _optional(fields.String, validate=validate.OneOf(("auto", "disabled")))
    user = _optional(fields.String, validate=validate.Length(max=512))


class ResponseRetrieveQuerySchema(StrictSchema):
    stream = fields.Boolean(load_default=False)
    starting_after = fields.Integer(load_default=-1, validate=validate.Range(min=-1))
    include = fields.List(fields.String(validate=validate.Length(max=128)), validate=validate.Length(max=16))
    include_obfuscation = fields.Boolean()


class ItemListQuerySchema(StrictSchema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    order = fields.String(load_default="desc", validate=validate.OneOf(("asc", "desc")))
    after = fields.String(validate=validate.Length(min=1, max=128))
    include = fields.List(fields.String(validate=validate.Length(max=128)), validate=validate.Length(max=16))


def _raw(description: str = ""):
    return fields.Raw(allow_none=True, metadata={"description": description} if description else {})


class ResponseObjectSchema(StrictSchema):
    """The response object, every field the Responses API documents; output items as they are."""

    id = fields.String()
    object = fields.String(metadata={"example": "response"})
    created_at = fields.Integer()
    status = fields.String(metadata={"description": "queued, in_progress, completed, incomplete, failed, "
                                                    "cancelled"})
    background = fields.Boolean()
    completed_at = fields.Integer(allow_none=True)
    error = _raw("{code, message} of a failed response")
    incomplete_details = _raw('{"reason": "max_output_tokens"}')
    instructions = _raw()
    max_output_tokens = fields.Integer(allow_none=True)
    max_tool_calls = fields.Integer(allow_none=True)
    model = fields.String()
    output = fields.List(fields.Dict(),
                         metadata={"description": "message, function_call, file_search_call items"})
    parallel_tool_calls = fields.Boolean()
    previous_response_id = fields.String(allow_none=True)
    prompt = _raw()
    prompt_cache_key = fields.String(allow_none=True)
    reasoning = _raw()
    safety_identifier = fields.String(allow_none=True)
    service_tier = fields.String()
    store = fields.Boolean()
    temperature = fields.Float()
    text = _raw()
    tool_choice = _raw()
    tools = fields.List(fields.Dict())
    top_logprobs = fields.Integer()
    top_p = fields.Float()
    presence_penalty = fields.Float()
    frequency_penalty = fields.Float()
    truncation = fields.String()
    usage = _raw("input_tokens, input_tokens_details, output_tokens, output_tokens_details, total_tokens")
    user = fields.String(allow_none=True)
    metadata = fields.Dict()
    conversation = _raw('{"id": "conv_..."} when the response belongs to a conversation')


class ItemListSchema(StrictSchema):
    object = fields.String()
    data = fields.List(fields.Dict())
    first_id = fields.String(allow_none=True)
    last_id = fields.String(allow_none=True)
    has_more = fields.Boolean()


class InputTokensSchema(StrictSchema):
    object = fields.String()
    input_tokens = fields.Integer()
