"""/v1/files: multipart uploads kept in the database, their content, and their deletion."""
import functools

from flask import Response, current_app, request
from flask.views import MethodView

from ...extensions import db
from ...schemas.v2.files import (FileDeletedSchema, FileListQuerySchema, FileListV2Schema, FileUploadSchema,
                                 FileV2Schema)
from ...services.retrieval import files as service
from .blueprint import blp, documents


def file_sized_body(view):
    """The body may hold a file of FILE_MAX_BYTES (not only ASSISTANTS_MAX_BODY_BYTES); larger: 413."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        service.check_size(request.content_length)
        request.max_content_length = current_app.config["FILE_MAX_BYTES"] + 64 * 1024
        return view(*args, **kwargs)
    return wrapper


@blp.route("/files")
class Files(MethodView):
    @file_sized_body
    @blp.arguments(FileUploadSchema(), location="multipart", error_status_code=400)
    @blp.response(200, FileV2Schema)
    @documents(400)
    def post(self, fields):
        """Upload a file (multipart: file, purpose); 413 past FILE_MAX_BYTES, 429 past the storage quota"""
        row = service.upload(fields["file"], fields["purpose"])
        db.session.commit()
        return service.present(row)

    @blp.arguments(FileListQuerySchema(), location="query", error_status_code=400)
    @blp.response(200, FileListV2Schema)
    def get(self, params):
        """List files (limit, order, after, purpose)"""
        return service.listed(params)


@blp.route("/files/<file_id>")
class FileById(MethodView):
    @blp.response(200, FileV2Schema)
    @documents(404)
    def get(self, file_id):
        """Retrieve a file"""
        return service.present(service.get(file_id))

    @blp.response(200, FileDeletedSchema)
    @documents(404)
    def delete(self, file_id):
        """Delete a file (from every vector store too)"""
        deleted = service.delete(service.get(file_id))
        db.session.commit()
        return deleted


@blp.route("/files/<file_id>/content")
class FileContent(MethodView):
    @blp.response(200, description="The file's bytes, exactly as uploaded.")
    @documents(404)
    def get(self, file_id):
        """Retrieve a file's content"""
        return Response(service.get(file_id).content, mimetype="application/octet-stream")
