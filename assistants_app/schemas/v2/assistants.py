"""v2 assistants: the same rows as /assistants (id: their details.id, asst_...)."""
from marshmallow import fields, validate

from ..common import StrictSchema
from .common import Metadata, ResponseFormat, Tools, list_schema


class AssistantFieldsV2(StrictSchema):
    name = fields.String(validate=validate.Length(max=256), allow_none=True)
    description = fields.String(validate=validate.Length(max=512), allow_none=True)
    instructions = fields.String(validate=validate.Length(max=256_000), allow_none=True)
    tools = Tools()
    tool_resources = fields.Dict(keys=fields.String(), allow_none=True)
    metadata = Metadata()
    temperature = fields.Float(validate=validate.Range(min=0, max=2), allow_none=True)
    top_p = fields.Float(validate=validate.Range(min=0, max=1), allow_none=True)
    response_format = ResponseFormat()
    reasoning_effort = fields.String(validate=validate.OneOf(("minimal", "low", "medium", "high")),
                                     allow_none=True)


class AssistantCreateV2Schema(AssistantFieldsV2):
    model = fields.String(required=True, validate=validate.Length(min=1, max=256))


class AssistantModifyV2Schema(AssistantFieldsV2):
    model = fields.String(validate=validate.Length(min=1, max=256))


class AssistantV2Schema(StrictSchema):
    id = fields.String()
    object = fields.String()
    created_at = fields.Integer()
    name = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    model = fields.String()
    instructions = fields.String(allow_none=True)
    tools = fields.List(fields.Dict())
    tool_resources = fields.Dict(allow_none=True)
    metadata = fields.Dict()
    temperature = fields.Float(allow_none=True)
    top_p = fields.Float(allow_none=True)
    response_format = fields.Raw(allow_none=True)


AssistantListV2Schema = list_schema(AssistantV2Schema, "AssistantListV2Schema")
