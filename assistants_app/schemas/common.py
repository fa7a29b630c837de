import json
import re
from collections.abc import Mapping

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load


# NUL, or half of a UTF-16 surrogate pair: JSON can carry both ("\u0000", "\ud800"), but no
# database stores them as text (PostgreSQL refuses NUL, UTF-8 has no lone surrogates).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _contains_nul(value) -> bool:
    if isinstance(value, str):
        return UNSTORABLE.search(value) is not None
    if isinstance(value, Mapping):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_contains_nul(v) for v in value)
    return False


class StrictSchema(Schema):
    """Unknown fields are an error, never silently dropped or assigned."""

    class Meta:
        unknown = RAISE

    @pre_load(pass_collection=True)
    def refuse_nul(self, data, **kwargs):
        # No database stores NUL in text the same way (PostgreSQL refuses it): refuse it here.
        if _contains_nul(data):
            raise ValidationError("Text must not contain NUL (\\u0000) or unpaired surrogate "
                                  "(\\ud800-\\udfff) characters.", "_schema")
        return data


class JsonObjectOrString(fields.Nested):
    """A nested object that clients may also send as a JSON-encoded string (Flowise does)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValidationError("Not a valid JSON object (nor a JSON string holding one).") from None
        if not isinstance(value, dict):
            raise ValidationError("Not a valid JSON object.")
        return super()._deserialize(value, attr, data, **kwargs)


class FunctionToolDefinition(StrictSchema):
    name = fields.String(required=True, validate=lambda s: 0 < len(s) <= 64)
    description = fields.String(load_default=None, allow_none=True)
    parameters = fields.Dict(load_default=None, allow_none=True)
    strict = fields.Boolean(load_default=None, allow_none=True)


class ToolField(fields.Field):
    """A tool as Flowise stores it ("function", "code_interpreter", "file_search"), or an
    OpenAI function tool definition {"type": "function", "function": {...}}."""

    TOOL_TYPES = ("function", "code_interpreter", "file_search")

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            if value not in self.TOOL_TYPES:
                raise ValidationError(f"Must be one of {', '.join(self.TOOL_TYPES)}, or a function tool "
                                      "object.")
            return value
        if isinstance(value, Mapping):
            if value.get("type") != "function" or set(value) - {"type", "function"}:
                raise ValidationError('A tool object must be {"type": "function", "function": {...}}.')
            function = FunctionToolDefinition().load(value.get("function") or {})
            return {"type": "function", "function": {k: v for k, v in function.items() if v is not None}}
        raise ValidationError("A tool is a string or an object.")

    def _serialize(self, value, attr, obj, **kwargs):
        return value
