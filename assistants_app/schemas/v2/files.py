"""/v1/files: the multipart upload, the list's query and the file object."""
from flask_smorest.fields import Upload
from marshmallow import fields, validate

from ..common import StrictSchema
from .common import list_schema

PURPOSES = ("assistants", "user_data", "vision", "batch", "fine-tune", "evals")


class FileUploadSchema(StrictSchema):
    file = Upload(required=True, metadata={"description": "The file; at most FILE_MAX_BYTES."})
    purpose = fields.String(required=True, validate=validate.OneOf(PURPOSES),
                            metadata={"description": "assistants, user_data or vision (batch, fine-tune and "
                                                     "evals are refused: this service serves no such API)."})
    expires_after = fields.Raw(metadata={"description": "Accepted, not applied: files are kept until "
                                                        "deleted."})


class FileListQuerySchema(StrictSchema):
    limit = fields.Integer(load_default=10000, validate=validate.Range(min=1, max=10000))
    order = fields.String(load_default="desc", validate=validate.OneOf(("asc", "desc")))
    after = fields.String(validate=validate.Length(min=1, max=128))
    purpose = fields.String(validate=validate.Length(min=1, max=32))


class FileV2Schema(StrictSchema):
    id = fields.String()
    object = fields.String()
    bytes = fields.Integer()
    created_at = fields.Integer()
    expires_at = fields.Integer(allow_none=True)
    filename = fields.String()
    purpose = fields.String()
    status = fields.String()
    status_details = fields.String(allow_none=True)


class FileDeletedSchema(StrictSchema):
    id = fields.String()
    object = fields.String()
    deleted = fields.Boolean()


FileListV2Schema = list_schema(FileV2Schema, "FileListV2Schema")
