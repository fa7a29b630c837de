"""/v1/vector_stores, their files, file batches and search."""
from collections.abc import Mapping

from marshmallow import ValidationError, fields, validate, validates_schema

from ..common import StrictSchema
from .common import ListQuerySchema, Metadata, list_schema

COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin")


class StaticChunking(StrictSchema):
    max_chunk_size_tokens = fields.Integer(required=True, validate=validate.Range(min=100, max=4096))
    chunk_overlap_tokens = fields.Integer(required=True, validate=validate.Range(min=0))

    @validates_schema
    def check_overlap(self, data, **kwargs):
        if data.get("chunk_overlap_tokens", 0) > data.get("max_chunk_size_tokens", 0) / 2:
            raise ValidationError("At most half of max_chunk_size_tokens.", "chunk_overlap_tokens")


class ChunkingStrategy(StrictSchema):
    type = fields.String(required=True, validate=validate.OneOf(("auto", "static")))
    static = fields.Nested(StaticChunking)

    @validates_schema
    def check_static(self, data, **kwargs):
        if data.get("type") == "static" and "static" not in data:
            raise ValidationError("A static strategy needs static.", "static")


class Attributes(fields.Dict):
    """Up to 16 keys of at most 64 characters; values strings (512 characters at most), numbers or
    booleans."""

    def __init__(self, **kwargs):
        super().__init__(keys=fields.String(validate=validate.Length(max=64)), allow_none=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        found = super()._deserialize(value, attr, data, **kwargs)
        if len(found) > 16:
            raise ValidationError("At most 16 attributes.")
        for item in found.values():
            if not isinstance(item, (str, int, float, bool)) or (isinstance(item, str) and len(item) > 512):
                raise ValidationError("Values are strings of at most 512 characters, numbers or booleans.")
        return found


class ExpiresAfter(StrictSchema):
    anchor = fields.String(required=True, validate=validate.Equal("last_active_at"))
    days = fields.Integer(required=True, validate=validate.Range(min=1, max=365))


def Filter(**kwargs):  # noqa: N802 - a field factory, named like the fields it makes
    return fields.Raw(validate=_check_filter, allow_none=True, metadata={"description": (
        'OpenAI\'s attribute filter: {"type": "eq"|"ne"|"gt"|"gte"|"lt"|"lte"|"in"|"nin", "key", "value"} '
        'or {"type": "and"|"or", "filters": [...]}')}, **kwargs)


def _check_filter(value, depth: int = 0):
    if not isinstance(value, Mapping) or depth > 8:
        raise ValidationError("A filter is an object with a type (nested at most 8 deep).")
    if value.get("type") in ("and", "or"):
        inner = value.get("filters")
        if set(value) != {"type", "filters"} or not isinstance(inner, list) or not 0 < len(inner) <= 32:
            raise ValidationError("A compound filter has type and 1 to 32 filters.")
        for item in inner:
            _check_filter(item, depth + 1)
    elif value.get("type") in COMPARISONS:
        if set(value) != {"type", "key", "value"} or not isinstance(value["key"], str):
            raise ValidationError("A comparison filter has type, key and value.")
    else:
        raise ValidationError(f"type must be and, or, or one of {', '.join(COMPARISONS)}.")


class VectorStoreCreateSchema(StrictSchema):
    name = fields.String(validate=validate.Length(max=256), allow_none=True)
    file_ids = fields.List(fields.String(validate=validate.Length(min=1, max=128)),
                           validate=validate.Length(max=500))
    expires_after = fields.Nested(ExpiresAfter, allow_none=True)
    chunking_strategy = fields.Nested(ChunkingStrategy)
    metadata = Metadata()
    description = fields.String(validate=validate.Length(max=512), allow_none=True,
                                metadata={"description": "Accepted, not stored."})
    credential = fields.String(validate=validate.Length(min=1, max=128), allow_none=True, metadata={
        "description": "This service's own: the credential whose provider embeds the store's chunks "
                       "(default: the app's provider). Send it with the SDK's extra_body."})


class VectorStoreModifySchema(StrictSchema):
    name = fields.String(validate=validate.Length(max=256), allow_none=True)
    expires_after = fields.Nested(ExpiresAfter, allow_none=True)
    metadata = Metadata()


class VectorStoreV2Schema(StrictSchema):
    id = fields.String()
    object = fields.String()
    created_at = fields.Integer()
    name = fields.String(allow_none=True)
    usage_bytes = fields.Integer()
    file_counts = fields.Dict()
    status = fields.String()
    expires_after = fields.Dict(allow_none=True)
    expires_at = fields.Integer(allow_none=True)
    last_active_at = fields.Integer(allow_none=True)
    metadata = fields.Dict()


class StoreFileCreateSchema(StrictSchema):
    file_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    attributes = Attributes()
    chunking_strategy = fields.Nested(ChunkingStrategy)


class StoreFileModifySchema(StrictSchema):
    attributes = Attributes(required=True)


class BatchCreateSchema(StrictSchema):
    file_ids = fields.List(fields.String(validate=validate.Length(min=1, max=128)),
                           validate=validate.Length(min=1, max=500))
    files = fields.List(fields.Nested(StoreFileCreateSchema), validate=validate.Length(min=1, max=500))
    attributes = Attributes()
    chunking_strategy = fields.Nested(ChunkingStrategy)


class StoreFileListQuerySchema(ListQuerySchema):
    filter = fields.String(validate=validate.OneOf(("in_progress", "completed", "failed", "cancelled")))


class StoreFileV2Schema(StrictSchema):
    id = fields.String()
    object = fields.String()
    usage_bytes = fields.Integer()
    created_at = fields.Integer()
    vector_store_id = fields.String()
    status = fields.String()
    last_error = fields.Dict(allow_none=True)
    chunking_strategy = fields.Dict()
    attributes = fields.Dict()


class BatchV2Schema(StrictSchema):
    id = fields.String()
    object = fields.String()
    created_at = fields.Integer()
    vector_store_id = fields.String()
    status = fields.String()
    file_counts = fields.Dict()


class RankingOptions(StrictSchema):
    ranker = fields.String(validate=validate.OneOf(("auto", "default-2024-11-15", "default_2024_08_21",
                                                    "none")))
    score_threshold = fields.Float(validate=validate.Range(min=0, max=1))


class SearchSchema(StrictSchema):
    query = fields.Raw(required=True, metadata={"description": "A string, or a list of 1 to 10 strings."})
    max_num_results = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50))
    filters = Filter()
    ranking_options = fields.Nested(RankingOptions)
    rewrite_query = fields.Boolean(load_default=False, metadata={"description": "Accepted; the query is "
                                                                                "searched as given."})

    @validates_schema
    def check_query(self, data, **kwargs):
        query = data.get("query")
        queries = [query] if isinstance(query, str) else query
        if (not isinstance(queries, list) or not 0 < len(queries) <= 10
                or not all(isinstance(q, str) and 0 < len(q) <= 4096 for q in queries)):
            raise ValidationError("A string of 1 to 4096 characters, or a list of 1 to 10 of them.", "query")


class SearchPageSchema(StrictSchema):
    object = fields.String()
    search_query = fields.List(fields.String())
    data = fields.List(fields.Dict())
    has_more = fields.Boolean()
    next_page = fields.String(allow_none=True)


class FileContentPageSchema(StrictSchema):
    object = fields.String()
    data = fields.List(fields.Dict())
    has_more = fields.Boolean()
    next_page = fields.String(allow_none=True)


VectorStoreListV2Schema = list_schema(VectorStoreV2Schema, "VectorStoreListV2Schema")
StoreFileListV2Schema = list_schema(StoreFileV2Schema, "StoreFileListV2Schema")
