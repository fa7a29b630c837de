"""Flowise's assistants API (seed 000): camelCase, ISO 8601 dates, `details` as an object."""
from marshmallow import fields, post_load, validate

from .common import JsonObjectOrString, StrictSchema, ToolField

ASSISTANT_TYPES = ("OPENAI", "AZURE", "CUSTOM")


class AssistantDetailsSchema(StrictSchema):
    # Server-owned: the remote asst_ id (assistants backend) or one minted here. A client's
    # value is only used to adopt an existing remote assistant.
    id = fields.String(validate=validate.Length(max=64))
    name = fields.String(validate=validate.Length(max=256), allow_none=True)
    description = fields.String(validate=validate.Length(max=512), allow_none=True)
    model = fields.String(required=True, validate=validate.Length(min=1, max=256))
    instructions = fields.String(validate=validate.Length(max=256_000), allow_none=True)
    temperature = fields.Float(validate=validate.Range(min=0, max=2), allow_none=True)
    top_p = fields.Float(validate=validate.Range(min=0, max=1), allow_none=True)
    tools = fields.List(ToolField(), validate=validate.Length(max=128))
    tool_resources = fields.Dict(keys=fields.String(), allow_none=True)


class AssistantFieldsSchema(StrictSchema):
    details = JsonObjectOrString(
        AssistantDetailsSchema,
        required=True,
        metadata={"description": "An object; a JSON string holding one is accepted too."},
    )
    credential = fields.String(
        attribute="credential_id",
        allow_none=True,
        metadata={"description": "Id of a stored credential; null uses the service's default provider."},
    )
    iconSrc = fields.String(attribute="icon_src", allow_none=True, validate=validate.Length(max=2048))
    type = fields.String(validate=validate.OneOf(ASSISTANT_TYPES), load_default="OPENAI")


class AssistantSchema(AssistantFieldsSchema):
    class Meta(AssistantFieldsSchema.Meta):
        # Flowise's order: the id first.
        fields = ("id", "details", "credential", "iconSrc", "type", "createdDate", "updatedDate")

    id = fields.String(metadata={"description": "Server-owned UUID."})
    details = fields.Nested(AssistantDetailsSchema, attribute="details_with_id")
    createdDate = fields.DateTime(attribute="created_at", format="iso")
    updatedDate = fields.DateTime(attribute="updated_at", format="iso")


SERVER_OWNED = {"description": "Server-owned: accepted (Flowise clients send whole objects back) and "
                               "ignored."}


class AssistantCreateSchema(AssistantFieldsSchema):
    id = fields.Raw(load_only=True, metadata=SERVER_OWNED)
    createdDate = fields.Raw(load_only=True, metadata=SERVER_OWNED)
    updatedDate = fields.Raw(load_only=True, metadata=SERVER_OWNED)

    @post_load
    def drop_server_owned(self, data, **kwargs):
        for name in ("id", "createdDate", "updatedDate"):
            data.pop(name, None)
        return data


class AssistantUpdateSchema(AssistantCreateSchema):
    """PUT: fields left out keep their values; `details`, when given, is replaced whole."""

    details = JsonObjectOrString(AssistantDetailsSchema,
                                 metadata=AssistantFieldsSchema._declared_fields["details"].metadata)
    type = fields.String(validate=validate.OneOf(ASSISTANT_TYPES))


class AssistantListQuerySchema(StrictSchema):
    type = fields.String(validate=validate.OneOf(ASSISTANT_TYPES))


class DeleteAssistantQuerySchema(StrictSchema):
    isDeleteBoth = fields.Boolean(load_default=False, attribute="delete_remote")


class DeleteResultSchema(StrictSchema):
    """Flowise answers a delete with TypeORM's DeleteResult; its clients read `affected`."""

    raw = fields.List(fields.Raw())
    affected = fields.Integer()
