"""Token usage (/usage): the caller's tenant's turns and tokens over a time range, grouped by day,
assistant, model or API key. An invalid query answers 400."""
from datetime import timedelta

from flask_smorest import Blueprint

from ..errors import BAD_REQUEST, ServiceError
from ..schemas.usage import UsageListSchema, UsageQuerySchema
from ..services import tenant
from ..services.sessions import current_time
from ..services.usage import usage_report

blp = Blueprint("usage", __name__, url_prefix="/usage",
                description="Token usage of the caller's tenant, from every API's recorded turns.")
BAD_REQUEST.register(blp)
DEFAULT_SPAN = timedelta(days=30)


@blp.route("", methods=["GET"])
@blp.arguments(UsageQuerySchema(), location="query", error_status_code=400)
@blp.response(200, UsageListSchema)
def get_usage(query):
    """Turns and tokens of this tenant in [start, end), grouped (failed turns count nothing)"""
    end = query.get("end") or current_time()
    start = query.get("start") or end - DEFAULT_SPAN
    if end <= start:  # webargs' layout, as for any other invalid query
        raise ServiceError(400, "The query is invalid.", {"query": {"end": ["end must be after start."]}})
    return {"object": "list", "start": int(start.timestamp()), "end": int(end.timestamp()),
            "data": usage_report(tenant(), start, end, query["group_by"])}
