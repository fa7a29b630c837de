"""file_search as a tool the service runs itself (services/server_tools.py): the model sees a function
``file_search(query)``; when it calls it, the vector stores named here are searched (search.py) and the
results go back to the model, marked for citation as 【<call>:<result>†<file name>】.

    tools = {"file_search": file_search.tool(tenant, ["vs_..."], max_num_results=20)}
    TurnInput(..., server_tools=tools)      # any API: v2 runs (services/v2/run_tools.py), Responses

The tool's ServerToolResult.details is what an API shows of a call: {"call", "query", "ranking_options",
"results": [{"file_id", "file_name", "score", "content": [{"type": "text", "text"}]}]}. Only the stores of
``tenant`` are searched: an id of another tenant's store (or a deleted one) finds nothing."""
import json
import re

from sqlalchemy import select

from ...errors import ServiceError, as_service_error
from ...extensions import db
from ...models import utcnow
from ...openai_adapter import ProviderError
from ...retrieval_models import VectorStore
from .. import release_connection
from ..server_tools import ServerTool, ServerToolResult
from . import search

NAME = "file_search"
DEFINITION = {"type": "function", "function": {
    "name": NAME,
    "description": "Search the user's files (their uploaded documents) for passages relevant to a query. "
                   "Use it for any question the files may answer; cite the passages you use by their "
                   "markers.",
    "parameters": {"type": "object", "properties": {"query": {
        "type": "string", "description": "What to look for, in the words the documents likely use."}},
        "required": ["query"]}}}
DEFAULT_MAX_RESULTS = 20  # OpenAI's default for file_search
CITATION = re.compile(r"【(\d+):(\d+)†([^】]{0,300})】")


def tool(tenant: str, store_ids: list[str], max_num_results: int | None = None, score_threshold: float = 0.0,
         first_call: int = 0, filters: dict | None = None) -> ServerTool:
    """The file_search ServerTool over ``store_ids`` (of ``tenant``), the files' ``filters`` on their
    attributes. ``first_call`` numbers its calls after those a conversation made before (their citation
    markers stay unambiguous)."""
    limit = max_num_results or DEFAULT_MAX_RESULTS
    calls = [first_call]

    def run(arguments: str) -> ServerToolResult:
        call, calls[0] = calls[0], calls[0] + 1
        parsed = json.loads(arguments)
        query = parsed.get("query") if isinstance(parsed, dict) else None
        options = {"ranker": "auto", "score_threshold": score_threshold}
        if not isinstance(query, str) or not query.strip():
            return ServerToolResult("Error: file_search needs a non-empty string query.",
                                    {"call": call, "query": "", "ranking_options": options, "results": []})
        try:
            stores = list(db.session.scalars(select(VectorStore).where(VectorStore.tenant == tenant,
                                                                       VectorStore.id.in_(store_ids))))
            stores = [store for store in stores if store.expires_at is None or store.expires_at > utcnow()]
            found = search.run(stores, [query], limit, filters, score_threshold) if stores else []
        except (ProviderError, ServiceError) as err:
            db.session.rollback()
            return ServerToolResult(f"Error: the search failed ({as_service_error(err).message})",
                                    {"call": call, "query": query, "ranking_options": options, "results": []})
        finally:
            release_connection()  # the turn goes on to the provider: no connection held meanwhile
        results = [{"file_id": r.file_id, "file_name": r.filename, "score": r.score,
                    "attributes": r.attributes,
                    "content": [{"type": "text", "text": r.text}]} for r in found]
        details = {"call": call, "query": query, "ranking_options": options, "results": results}
        return ServerToolResult(_output(call, query, results), details)
    return ServerTool(DEFINITION, run)


def _output(call: int, query: str, results: list[dict]) -> str:
    if not results:
        return f"file_search found nothing for {query!r}."
    passages = [f"【{call}:{index}†{result['file_name']}】\n{result['content'][0]['text']}"
                for index, result in enumerate(results)]
    return (f"file_search results for {query!r}. Cite each passage you use by its marker, as it is written, "
            "right after the sentence it supports.\n\n" + "\n\n".join(passages))


def cited(text: str, calls: list[dict]) -> list[tuple[re.Match, dict]]:
    """The markers ``text`` cites that name a result of the calls it saw (their details), with that result."""
    results = {(details.get("call"), index): result for details in calls
               for index, result in enumerate(details.get("results") or ())}
    found = []
    for match in CITATION.finditer(text or ""):
        result = results.get((int(match.group(1)), int(match.group(2))))
        if result is not None:
            found.append((match, result))
    return found


def annotations(text: str, calls: list[dict]) -> list[dict]:
    """The Assistants API's file_citation annotations of the markers ``text`` cites."""
    return [{"type": "file_citation", "text": match.group(0), "start_index": match.start(),
             "end_index": match.end(), "file_citation": {"file_id": result["file_id"]}}
            for match, result in cited(text, calls)]


def details_of(messages) -> list[dict]:
    """The details of the file_search calls among stored messages (tool messages of server rounds)."""
    return [(row.message_metadata or {}).get("details") or {} for row in messages
            if row.role == "tool" and (row.message_metadata or {}).get("server_tool") == NAME]


def check_tool_resources(tool_resources: dict | None, tenant: str) -> dict:
    """tool_resources as stored: file_search.vector_store_ids must name stores of ``tenant`` (404)."""
    if not tool_resources:
        return {}
    file_search = tool_resources.get("file_search")
    if file_search is None:
        return dict(tool_resources)
    ids = file_search.get("vector_store_ids") if isinstance(file_search, dict) else None
    well_formed = isinstance(ids, list) and len(ids) <= 8
    if not well_formed or not all(isinstance(i, str) and 0 < len(i) <= 128 for i in ids):
        raise ServiceError(400, "tool_resources.file_search.vector_store_ids must be a list of at most 8 "
                                "vector store ids.",
                           {"json": {"tool_resources": ["Invalid vector_store_ids."]}})
    known = set(db.session.scalars(select(VectorStore.id).where(VectorStore.tenant == tenant,
                                                                VectorStore.id.in_(ids))))
    for store_id in ids:
        if store_id not in known:
            raise ServiceError(404, f"No vector store found with id '{store_id}'.")
    return {**tool_resources, "file_search": {"vector_store_ids": list(dict.fromkeys(ids))}}
