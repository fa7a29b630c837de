"""Flowise's assistants API (/assistants; seed 000)."""
from flask.views import MethodView
from sqlalchemy import select

from ..database import reads_only
from ..extensions import db
from ..models import Assistant
from ..schemas.assistants import (
    AssistantCreateSchema,
    AssistantListQuerySchema,
    AssistantSchema,
    AssistantUpdateSchema,
    DeleteAssistantQuerySchema,
    DeleteResultSchema,
)
from ..services import assistants as service
from ..services import get_owned, paginate, tenant
from .etags import OptionalIfMatchBlueprint

blp = OptionalIfMatchBlueprint(
    "assistants", __name__, url_prefix="/assistants",
    description="Assistants (Flowise's API): model, instructions, tools and a credential.")


@blp.route("")
class Assistants(MethodView):
    @blp.arguments(AssistantListQuerySchema(), location="query")
    @blp.paginate()
    @blp.response(200, AssistantSchema(many=True))
    @reads_only
    def get(self, query_args, pagination_parameters):
        """List assistants (a JSON array; page, page_size and X-Pagination)"""
        query = select(Assistant).where(Assistant.tenant == tenant())
        if "type" in query_args:
            query = query.where(Assistant.type == query_args["type"])
        return paginate(query, pagination_parameters, Assistant.created_at, Assistant.id)

    @blp.arguments(AssistantCreateSchema())
    @blp.response(200, AssistantSchema)
    @blp.alt_response(502, description="The provider failed (assistants backend only).")
    def post(self, fields):
        """Create an assistant"""
        assistant = service.create_assistant(fields)
        db.session.commit()
        return assistant


@blp.route("/<assistant_id>")
@blp.etag
class AssistantById(MethodView):
    @blp.response(200, AssistantSchema)
    @reads_only
    def get(self, assistant_id):
        """Get an assistant"""
        return get_owned(Assistant, assistant_id)

    @blp.arguments(AssistantUpdateSchema())
    @blp.response(200, AssistantSchema)
    @blp.alt_response(502, description="The provider failed (assistants backend only).")
    def put(self, fields, assistant_id):
        """Update an assistant; fields left out keep their values"""
        assistant = get_owned(Assistant, assistant_id)
        blp.check_etag(assistant, AssistantSchema)
        service.update_assistant(assistant, fields,
                                 precondition=lambda row: blp.check_etag(row, AssistantSchema))
        db.session.commit()
        return assistant

    @blp.arguments(DeleteAssistantQuerySchema(), location="query")
    @blp.response(200, DeleteResultSchema)
    @blp.alt_response(502, description="The provider failed to delete its twin (isDeleteBoth).")
    def delete(self, query_args, assistant_id):
        """Delete an assistant (isDeleteBoth=true: the provider's twin too)"""
        assistant = get_owned(Assistant, assistant_id)
        blp.check_etag(assistant, AssistantSchema)
        service.delete_assistant(assistant, delete_remote=query_args["delete_remote"])
        db.session.commit()
        return {"raw": [], "affected": 1}
