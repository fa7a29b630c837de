"""file_search in the Responses API: the request's {"type": "file_search", "vector_store_ids",
"max_num_results", "ranking_options", "filters"} run by the service itself over the tenant's vector
stores (services/retrieval/file_search.py); each call a file_search_call output item (its results
when the request includes "file_search_call.results"); the passages the reply cites, file_citation
annotations of its text.

    calls = []                                       # each call's details, its item under "item"
    tools = {"file_search": server_tool(tool_fields, include, calls, first_call)}
    annotations(text, calls)                         # the output_text's file_citation annotations"""
from sqlalchemy import select

from ...errors import NotFound
from ...extensions import db
from ...models import new_token_id
from ...retrieval_models import VectorStore
from .. import tenant
from ..retrieval import file_search
from ..server_tools import ServerTool, ServerToolResult

INCLUDE_RESULTS = "file_search_call.results"


def server_tool(fields: dict, include: list[str], calls: list[dict], first_call: int = 0) -> ServerTool:
    """The ServerTool of the request's file_search tool; every store it names must be the tenant's (404)."""
    ids = list(dict.fromkeys(fields["vector_store_ids"]))
    known = set(db.session.scalars(select(VectorStore.id).where(VectorStore.tenant == tenant(),
                                                                VectorStore.id.in_(ids))))
    for store_id in ids:
        if store_id not in known:
            raise NotFound(f"Vector store with id '{store_id}' not found.")
    ranking = fields.get("ranking_options") or {}
    searching = file_search.tool(tenant(), ids, fields.get("max_num_results"),
                                 float(ranking.get("score_threshold") or 0.0), first_call,
                                 fields.get("filters"))
    with_results = INCLUDE_RESULTS in (include or ())

    def run(arguments: str) -> ServerToolResult:
        result = searching.run(arguments)
        item = _item(result, with_results)
        details = {**result.details, "item": item}
        calls.append(details)
        return ServerToolResult(result.output, details, {"item_type": "file_search_call", "item": item})
    return ServerTool(searching.definition, run)


def _item(result: ServerToolResult, with_results: bool) -> dict:
    details = result.details
    failed = result.output.startswith("Error:")
    results = [{"file_id": found["file_id"], "filename": found["file_name"], "score": found["score"],
                "text": found["content"][0]["text"], "attributes": found.get("attributes") or {}}
               for found in details.get("results") or ()]
    return {"type": "file_search_call", "id": new_token_id("fs_"),
            "status": "failed" if failed else "completed",
            "queries": [details["query"]] if details.get("query") else [],
            "results": results if with_results else None}


def annotations(text: str, calls: list[dict]) -> list[dict]:
    """The Responses API's file_citation annotations: each cited passage's file, at its marker's place."""
    return [{"type": "file_citation", "file_id": result["file_id"], "filename": result["file_name"],
             "index": match.start()} for match, result in file_search.cited(text, calls)]


def shown(fields: dict) -> dict:
    """The tool as a response object shows it: every field, null when not given."""
    return {"type": "file_search", "vector_store_ids": fields["vector_store_ids"],
            "max_num_results": fields.get("max_num_results"),
            "ranking_options": fields.get("ranking_options") or {"ranker": "auto", "score_threshold": 0.0},
            "filters": fields.get("filters")}
