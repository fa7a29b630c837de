"""POST /v1/responses/compact: the request (a response's context, and the model that summarises it) and
the response.compaction object (built by services/responses/compact.py; documented here)."""
from marshmallow import fields, validate

from .common import StrictSchema
from .generation import SERVICE_TIERS
from .responses import InputField


class CompactSchema(StrictSchema):
    model = fields.String(required=True, validate=validate.Length(min=1, max=256))
    input = InputField(allow_none=True)
    instructions = fields.String(allow_none=True, validate=validate.Length(max=256_000))
    previous_response_id = fields.String(allow_none=True, validate=validate.Length(min=1, max=128))
    prompt_cache_key = fields.String(allow_none=True, validate=validate.Length(max=512))
    prompt_cache_retention = fields.String(allow_none=True, validate=validate.OneOf(("in_memory", "24h")))
    service_tier = fields.String(allow_none=True, validate=validate.OneOf(SERVICE_TIERS))


class CompactionSchema(StrictSchema):
    id = fields.String()
    object = fields.String(metadata={"example": "response.compaction"})
    created_at = fields.Integer()
    output = fields.List(fields.Dict(), metadata={
        "description": 'One compaction item: {"type": "compaction", "id", "encrypted_content"}, to send as '
                       "input in place of the context it summarises."})
    usage = fields.Raw(metadata={"description": "The tokens the summary took, as a response's usage"})
