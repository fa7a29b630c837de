"""v2 threads and messages."""
from marshmallow import ValidationError, fields, validate

from ..common import StrictSchema
from .common import ListQuerySchema, Metadata, list_schema


class TextPart(StrictSchema):
    type = fields.String(required=True,
                         validate=validate.Equal("text", error="Only text parts are supported."))
    text = fields.String(required=True, validate=validate.Length(max=256_000))


class MessageContent(fields.Field):
    """A string, or a list of text parts (image parts are not supported)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            if len(value) > 256_000:
                raise ValidationError("Longer than 256000 characters.")
            return value
        if isinstance(value, list) and 0 < len(value) <= 32:
            return "\n".join(part["text"] for part in TextPart(many=True).load(value))
        raise ValidationError("A string, or a list of 1 to 32 text parts.")


class MessageCreateV2Schema(StrictSchema):
    role = fields.String(required=True, validate=validate.OneOf(("user", "assistant")))
    content = MessageContent(required=True)
    attachments = fields.List(fields.Dict(), validate=validate.Length(max=32), allow_none=True)
    metadata = Metadata()


class MetadataOnlySchema(StrictSchema):
    metadata = Metadata()


class ThreadCreateV2Schema(StrictSchema):
    messages = fields.List(fields.Nested(MessageCreateV2Schema), validate=validate.Length(max=100))
    metadata = Metadata()
    tool_resources = fields.Dict(keys=fields.String(), allow_none=True,
                                 metadata={"description": "file_search.vector_store_ids: the stores its runs "
                                                          "search (code_interpreter is stored, not run)."})


class ThreadModifyV2Schema(StrictSchema):
    metadata = Metadata()
    tool_resources = fields.Dict(keys=fields.String(), allow_none=True)


class ThreadV2Schema(StrictSchema):
    id = fields.String()
    object = fields.String()
    created_at = fields.Integer()
    metadata = fields.Dict()
    tool_resources = fields.Dict()


class TextValue(StrictSchema):
    value = fields.String()
    annotations = fields.List(fields.Dict())


class ContentPart(StrictSchema):
    type = fields.String()
    text = fields.Nested(TextValue)


class MessageV2Schema(StrictSchema):
    id = fields.String()
    object = fields.String()
    created_at = fields.Integer()
    thread_id = fields.String()
    status = fields.String()
    incomplete_details = fields.Dict(allow_none=True)
    completed_at = fields.Integer(allow_none=True)
    incomplete_at = fields.Integer(allow_none=True)
    role = fields.String()
    content = fields.List(fields.Nested(ContentPart))
    assistant_id = fields.String(allow_none=True)
    run_id = fields.String(allow_none=True)
    attachments = fields.List(fields.Dict())
    metadata = fields.Dict()


class MessageListQuerySchema(ListQuerySchema):
    run_id = fields.String(validate=validate.Length(min=1, max=128))


MessageListV2Schema = list_schema(MessageV2Schema, "MessageListV2Schema")
