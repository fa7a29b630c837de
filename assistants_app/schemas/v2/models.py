"""/v1/models: OpenAI's model object and its list."""
from marshmallow import fields

from ..common import StrictSchema

OWNERS = '"default" (the service\'s default provider) or "credential:<id>" (a credential of the tenant).'


class ModelV2Schema(StrictSchema):
    id = fields.String(metadata={"example": "gpt-4o-mini"})
    object = fields.String(metadata={"example": "model"})
    created = fields.Integer(metadata={"description": "0: providers' model lists are kept as ids only."})
    owned_by = fields.String(metadata={"description": OWNERS})


class ModelListV2Schema(StrictSchema):
    object = fields.String(metadata={"example": "list"})
    data = fields.List(fields.Nested(ModelV2Schema))
