"""/v1/vector_stores and their search."""
from flask.views import MethodView

from ...extensions import db
from ...schemas.v2.common import DeletedSchema, ListQuerySchema
from ...schemas.v2.vector_stores import (SearchPageSchema, SearchSchema, VectorStoreCreateSchema,
                                         VectorStoreListV2Schema, VectorStoreModifySchema,
                                         VectorStoreV2Schema)
from ...services.retrieval import indexing, search, store_files, stores
from .blueprint import blp, documents


@blp.route("/vector_stores")
class VectorStores(MethodView):
    @blp.arguments(ListQuerySchema(), location="query", error_status_code=400)
    @blp.response(200, VectorStoreListV2Schema)
    def get(self, params):
        """List vector stores (limit, order, after, before)"""
        return stores.listed(params)

    @blp.arguments(VectorStoreCreateSchema(), error_status_code=400)
    @blp.response(200, VectorStoreV2Schema)
    @documents(400, 404)
    def post(self, fields):
        """Create a vector store (file_ids: indexed in the background)"""
        store = stores.create(fields)
        strategy = fields.get("chunking_strategy")
        rows = store_files.attach(store, [{"file_id": file_id, "chunking_strategy": strategy}
                                          for file_id in fields.get("file_ids") or ()])
        jobs = indexing.jobs_of(rows)
        db.session.commit()
        indexing.start(jobs)
        return stores.present(store)


@blp.route("/vector_stores/<store_id>")
class VectorStoreById(MethodView):
    @blp.response(200, VectorStoreV2Schema)
    @documents(404)
    def get(self, store_id):
        """Retrieve a vector store"""
        return stores.present(stores.get(store_id))

    @blp.arguments(VectorStoreModifySchema(), error_status_code=400)
    @blp.response(200, VectorStoreV2Schema)
    @documents(404)
    def post(self, fields, store_id):
        """Modify a vector store's name, expiry or metadata"""
        store = stores.modify(stores.get(store_id), fields)
        db.session.commit()
        return stores.present(store)

    @blp.response(200, DeletedSchema)
    @documents(404)
    def delete(self, store_id):
        """Delete a vector store and its chunks (the files stay)"""
        deleted = stores.delete(stores.get(store_id))
        db.session.commit()
        return deleted


@blp.route("/vector_stores/<store_id>/search")
class VectorStoreSearch(MethodView):
    @blp.arguments(SearchSchema(), error_status_code=400)
    @blp.response(200, SearchPageSchema)
    @documents(400, 404, 429, 502, 504)
    def post(self, fields, store_id):
        """Search a vector store: keyword and vector rankings fused (docs/file_search.rst)"""
        store = stores.usable([store_id])[0]
        queries = [fields["query"]] if isinstance(fields["query"], str) else fields["query"]
        options = fields.get("ranking_options") or {}
        results = search.run([store], queries, fields["max_num_results"], fields.get("filters"),
                             options.get("score_threshold", 0.0))
        stores.touch(store)
        db.session.commit()
        return search.present(results, queries)
