"""What the v2 resources share: metadata, tools, list paging, deleted objects."""
from collections.abc import Mapping

from marshmallow import ValidationError, fields, validate

from ..common import FunctionToolDefinition, StrictSchema
from ..generation import Metadata  # noqa: F401 - the v2 schemas' metadata is OpenAI's everywhere


class ToolV2(fields.Field):
    """{"type": "function", "function": {...}}, {"type": "code_interpreter"} or
    {"type": "file_search", "file_search"?: {...}}: the last two are stored, not executed."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, Mapping):
            raise ValidationError("A tool is an object with a type.")
        kind = value.get("type")
        if kind == "function" and set(value) <= {"type", "function"}:
            function = FunctionToolDefinition().load(value.get("function") or {})
            return {"type": "function", "function": {k: v for k, v in function.items() if v is not None}}
        if kind == "code_interpreter" and set(value) == {"type"}:
            return {"type": kind}
        if kind == "file_search" and set(value) <= {"type", "file_search"} and isinstance(
                value.get("file_search", {}), Mapping):
            return dict(value)
        raise ValidationError("Must be a function, code_interpreter or file_search tool.")

    def _serialize(self, value, attr, obj, **kwargs):
        return value


def Tools(**kwargs):  # noqa: N802
    return fields.List(ToolV2(), validate=validate.Length(max=128), **kwargs)


def ResponseFormat(**kwargs):  # noqa: N802
    return fields.Raw(allow_none=True, metadata={"description": '"auto" or {"type": "text" | "json_object" | '
                                                                '"json_schema", ...}'}, **kwargs)


class ListQuerySchema(StrictSchema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    order = fields.String(load_default="desc", validate=validate.OneOf(("asc", "desc")))
    after = fields.String(validate=validate.Length(min=1, max=128))
    before = fields.String(validate=validate.Length(min=1, max=128))


def list_schema(item_schema, name: str):
    """{"object": "list", "data": [...], "first_id", "last_id", "has_more"} of item_schema."""
    return type(name, (StrictSchema,), {
        "object": fields.String(dump_default="list"),
        "data": fields.List(fields.Nested(item_schema)),
        "first_id": fields.String(allow_none=True),
        "last_id": fields.String(allow_none=True),
        "has_more": fields.Boolean(),
    })


class DeletedSchema(StrictSchema):
    id = fields.String()
    object = fields.String()
    deleted = fields.Boolean()
