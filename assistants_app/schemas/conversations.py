"""The Conversations API's requests and objects."""
from marshmallow import fields, validate

from .common import StrictSchema
from .generation import Metadata
from .responses import InputItem


class ConversationCreateSchema(StrictSchema):
    items = fields.List(InputItem(), validate=validate.Length(max=20), allow_none=True)
    metadata = Metadata()


class ConversationModifySchema(StrictSchema):
    metadata = Metadata(required=True)


class ConversationSchema(StrictSchema):
    id = fields.String()
    object = fields.String(metadata={"example": "conversation"})
    created_at = fields.Integer()
    metadata = fields.Dict()


class ItemsCreateSchema(StrictSchema):
    items = fields.List(InputItem(), required=True, validate=validate.Length(min=1, max=20))


class ItemsIncludeQuerySchema(StrictSchema):
    include = fields.List(fields.String(validate=validate.Length(max=128)), validate=validate.Length(max=16))
