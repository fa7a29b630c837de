"""The tools a v2 run's service runs itself (services/server_tools.py): file_search, when the run's tools
(the assistant's unless the run gave its own) include it, over the vector stores of the assistant's and
the thread's tool_resources.file_search.vector_store_ids, with the tool's max_num_results and
ranking_options.score_threshold.

    TurnInput(..., server_tools=run_tools.server_tools(run, thread))"""
from sqlalchemy import func, select

from ...extensions import db
from ...models import Message, Run, Thread
from ..retrieval import file_search


def store_ids(run: Run, thread: Thread) -> list[str]:
    ids = []
    for resources in (run.assistant.details.get("tool_resources"), thread.tool_resources):
        found = ((resources or {}).get("file_search") or {}).get("vector_store_ids") or []
        ids += [store_id for store_id in found if isinstance(store_id, str)]
    return list(dict.fromkeys(ids))


def server_tools(run: Run, thread: Thread) -> dict:
    settings = next((tool for tool in run.tools if tool.get("type") == "file_search"), None)
    if settings is None:
        return {}
    options = settings.get("file_search") or {}
    ranking = options.get("ranking_options") or {}
    # Calls numbered after the run's earlier tool answers (a run resumed after requires_action).
    earlier = db.session.scalar(select(func.count()).select_from(Message)
                                .where(Message.run_id == run.id, Message.role == "tool"))
    tool = file_search.tool(run.tenant, store_ids(run, thread), options.get("max_num_results"),
                            float(ranking.get("score_threshold") or 0.0), first_call=earlier)
    return {file_search.NAME: tool}
