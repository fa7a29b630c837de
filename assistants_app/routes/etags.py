"""flask-smorest's ETags, with If-Match optional.

`@blp.etag` answers PUT, PATCH and DELETE without If-Match with 428. Flowise's clients send
none, so here such a write is unconditional; a stale If-Match still gets flask-smorest's 412
(in the error contract), and GET still answers an ETag and 304 to a matching If-None-Match."""
from flask import request
from flask_smorest import Blueprint

OPTIONAL_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": "The ETag of the object as last read: if it changed since, 412 and nothing is written.",
    "schema": {"type": "string"},
}


class OptionalIfMatchBlueprint(Blueprint):
    def _check_precondition(self):
        pass  # no 428 for a missing If-Match

    def check_etag(self, etag_data, etag_schema=None):
        if request.if_match:
            super().check_etag(etag_data, etag_schema)

    def _verify_check_etag(self):
        if request.if_match:
            super()._verify_check_etag()

    def _prepare_etag_doc(self, doc, doc_info, **kwargs):
        doc = super()._prepare_etag_doc(doc, doc_info, **kwargs)
        doc.get("responses", {}).pop(428, None)
        if "parameters" in doc:
            doc["parameters"] = [OPTIONAL_IF_MATCH if p == "IF_MATCH" else p for p in doc["parameters"]]
        return doc
