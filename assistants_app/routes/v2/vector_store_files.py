"""/v1/vector_stores/{id}/files and /file_batches: files indexed into a store in the background."""
from flask.views import MethodView

from ...extensions import db
from ...schemas.v2.vector_stores import (BatchCreateSchema, BatchV2Schema, FileContentPageSchema,
                                         StoreFileCreateSchema, StoreFileListQuerySchema,
                                         StoreFileListV2Schema, StoreFileModifySchema, StoreFileV2Schema)
from ...schemas.v2.common import DeletedSchema
from ...services.retrieval import indexing, store_files, stores
from .blueprint import blp, documents


@blp.route("/vector_stores/<store_id>/files")
class StoreFiles(MethodView):
    @blp.arguments(StoreFileCreateSchema(), error_status_code=400)
    @blp.response(200, StoreFileV2Schema)
    @documents(400, 404)
    def post(self, fields, store_id):
        """Add a file to a vector store (indexed in the background: poll its status)"""
        row, = store_files.attach(stores.get(store_id), [fields])
        jobs, shown = indexing.jobs_of([row]), store_files.present(row)
        db.session.commit()
        indexing.start(jobs)
        return shown

    @blp.arguments(StoreFileListQuerySchema(), location="query", error_status_code=400)
    @blp.response(200, StoreFileListV2Schema)
    @documents(404)
    def get(self, params, store_id):
        """List a vector store's files (limit, order, after, before, filter)"""
        return store_files.listed(stores.get(store_id), params)


@blp.route("/vector_stores/<store_id>/files/<file_id>")
class StoreFileById(MethodView):
    @blp.response(200, StoreFileV2Schema)
    @documents(404)
    def get(self, store_id, file_id):
        """Retrieve a vector store file"""
        row = store_files.get(stores.get(store_id), file_id)
        db.session.commit()  # a stale job found failed is written as such
        return store_files.present(row)

    @blp.arguments(StoreFileModifySchema(), error_status_code=400)
    @blp.response(200, StoreFileV2Schema)
    @documents(404)
    def post(self, fields, store_id, file_id):
        """Update a vector store file's attributes"""
        row = store_files.modify(store_files.get(stores.get(store_id), file_id), fields["attributes"])
        db.session.commit()
        return store_files.present(row)

    @blp.response(200, DeletedSchema)
    @documents(404)
    def delete(self, store_id, file_id):
        """Remove a file from a vector store (its chunks go; the file stays)"""
        store = stores.get(store_id)
        deleted = store_files.remove(store, store_files.get(store, file_id))
        db.session.commit()
        return deleted


@blp.route("/vector_stores/<store_id>/files/<file_id>/content")
class StoreFileContent(MethodView):
    @blp.response(200, FileContentPageSchema)
    @documents(400, 404)
    def get(self, store_id, file_id):
        """The text of a vector store file, as it was indexed"""
        return store_files.content(store_files.get(stores.get(store_id), file_id))


@blp.route("/vector_stores/<store_id>/file_batches")
class FileBatches(MethodView):
    @blp.arguments(BatchCreateSchema(), error_status_code=400)
    @blp.response(200, BatchV2Schema)
    @documents(400, 404)
    def post(self, fields, store_id):
        """Add files to a vector store together (poll the batch)"""
        batch, rows = store_files.create_batch(stores.get(store_id), fields)
        jobs = indexing.jobs_of(rows)
        db.session.commit()
        indexing.start(jobs)
        return store_files.present_batch(batch)


@blp.route("/vector_stores/<store_id>/file_batches/<batch_id>")
class FileBatchById(MethodView):
    @blp.response(200, BatchV2Schema)
    @documents(404)
    def get(self, store_id, batch_id):
        """Retrieve a file batch"""
        return store_files.present_batch(store_files.get_batch(stores.get(store_id), batch_id))


@blp.route("/vector_stores/<store_id>/file_batches/<batch_id>/cancel")
class FileBatchCancel(MethodView):
    @blp.response(200, BatchV2Schema)
    @documents(400, 404)
    def post(self, store_id, batch_id):
        """Cancel a file batch: its files not indexed yet are cancelled"""
        batch = store_files.cancel_batch(store_files.get_batch(stores.get(store_id), batch_id))
        db.session.commit()
        return store_files.present_batch(batch)


@blp.route("/vector_stores/<store_id>/file_batches/<batch_id>/files")
class FileBatchFiles(MethodView):
    @blp.arguments(StoreFileListQuerySchema(), location="query", error_status_code=400)
    @blp.response(200, StoreFileListV2Schema)
    @documents(404)
    def get(self, params, store_id, batch_id):
        """List a file batch's files"""
        store = stores.get(store_id)
        return store_files.listed(store, params, store_files.get_batch(store, batch_id))
