"""How a reply is to be generated, as OpenAI's APIs say it: the fields every chat-shaped request shares
(the agents API's chat/completions, v2 runs), validated once here. Values keep Chat Completions' shapes;
the adapter's backends translate them (openai_adapter/interface.py OPTIONS)."""
from collections.abc import Mapping

from marshmallow import ValidationError, fields, validate

from .common import StrictSchema

REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
SERVICE_TIERS = ("auto", "default", "flex", "scale", "priority", "fast")


class ResponseFormatField(fields.Field):
    """{"type": "text"}, {"type": "json_object"} or {"type": "json_schema", "json_schema": {"name", "schema",
    "strict", "description"}}."""

    def __init__(self, **kwargs):
        super().__init__(allow_none=True, metadata={
            "description": '{"type": "text" | "json_object" | "json_schema", ...}'}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, Mapping) or value.get("type") not in ("text", "json_object", "json_schema"):
            raise ValidationError('Must be {"type": "text"}, {"type": "json_object"} or '
                                  '{"type": "json_schema", "json_schema": {"name": ..., "schema": {...}}}.')
        if value["type"] != "json_schema":
            if set(value) != {"type"}:
                raise ValidationError(f"A {value['type']} response_format has only a type.")
            return {"type": value["type"]}
        schema = value.get("json_schema")
        if set(value) != {"type", "json_schema"} or not isinstance(schema, Mapping):
            raise ValidationError('A json_schema response_format is '
                                  '{"type": "json_schema", "json_schema": {...}}.')
        return {"type": "json_schema", "json_schema": JsonSchemaFormat().load(schema)}


class JsonSchemaFormat(StrictSchema):
    name = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,64}$"))
    description = fields.String(allow_none=True, validate=validate.Length(max=10_000))
    schema = fields.Dict(allow_none=True)
    strict = fields.Boolean(allow_none=True)


class ToolChoiceField(fields.Field):
    """"none", "auto", "required", or a tool object ({"type": "function", "function": {"name": ...}}, ...)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value in ("none", "auto", "required"):
            return value
        if isinstance(value, Mapping) and isinstance(value.get("type"), str):
            function = value.get("function")
            if value["type"] == "function" and not (isinstance(function, Mapping)
                                                    and isinstance(function.get("name"), str)):
                raise ValidationError('A function tool_choice is '
                                      '{"type": "function", "function": {"name": ...}}.')
            return dict(value)
        raise ValidationError('Must be "none", "auto", "required" or a tool object.')


def _check_metadata(value):
    if len(value) > 16:
        raise ValidationError("At most 16 key-value pairs.")


def Metadata(**kwargs):  # noqa: N802 - a field factory, named like the fields it makes
    """OpenAI's limits: 16 pairs, keys up to 64 characters, values up to 512."""
    return fields.Dict(keys=fields.String(validate=validate.Length(max=64)),
                       values=fields.String(validate=validate.Length(max=512)),
                       validate=_check_metadata, allow_none=True, **kwargs)


def _optional(field_class, **kwargs):
    return field_class(allow_none=True, **kwargs)


class ChatOptionsSchema(StrictSchema):
    """Chat Completions' generation options beyond the sampling basics (OPTIONS in the adapter)."""

    response_format = ResponseFormatField()
    tool_choice = ToolChoiceField(allow_none=True)
    parallel_tool_calls = _optional(fields.Boolean)
    logprobs = _optional(fields.Boolean)
    top_logprobs = _optional(fields.Integer, strict=True, validate=validate.Range(min=0, max=20))
    frequency_penalty = _optional(fields.Float, validate=validate.Range(min=-2, max=2))
    presence_penalty = _optional(fields.Float, validate=validate.Range(min=-2, max=2))
    logit_bias = _optional(fields.Dict, keys=fields.String(validate=validate.Regexp(r"^\d{1,10}$")),
                           values=fields.Integer(validate=validate.Range(min=-100, max=100)),
                           validate=validate.Length(max=1024))
    reasoning_effort = _optional(fields.String, validate=validate.OneOf(REASONING_EFFORTS))
    service_tier = _optional(fields.String, validate=validate.OneOf(SERVICE_TIERS))
    user = _optional(fields.String, validate=validate.Length(max=512))
    modalities = _optional(fields.List,
                           cls_or_instance=fields.String(validate=validate.OneOf(("text", "audio"))),
                           validate=validate.Length(max=2))
    prediction = _optional(fields.Dict)
    audio = _optional(fields.Dict)
    web_search_options = _optional(fields.Dict)
    verbosity = _optional(fields.String, validate=validate.OneOf(("low", "medium", "high")))
    prompt_cache_key = _optional(fields.String, validate=validate.Length(max=512))
    prompt_cache_retention = _optional(fields.String, validate=validate.OneOf(("in_memory", "24h")))
    prompt_cache_options = _optional(fields.Dict)
    safety_identifier = _optional(fields.String, validate=validate.Length(max=512))
    moderation = _optional(fields.Dict)
    functions = _optional(fields.List, cls_or_instance=fields.Dict(), validate=validate.Length(max=128),
                          metadata={"description": "Deprecated by OpenAI for tools; passed on as it is."})
    function_call = _optional(fields.Raw, metadata={"description": "Deprecated by OpenAI for tool_choice."})
