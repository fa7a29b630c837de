"""/v1/assistants."""
from flask.views import MethodView

from ...extensions import db
from ...schemas.v2.assistants import (AssistantCreateV2Schema, AssistantListV2Schema, AssistantModifyV2Schema,
                                      AssistantV2Schema)
from ...schemas.v2.common import DeletedSchema, ListQuerySchema
from ...services.v2 import assistants as service
from .blueprint import blp, documents


@blp.route("/assistants")
class Assistants(MethodView):
    @blp.arguments(ListQuerySchema(), location="query", error_status_code=400)
    @blp.response(200, AssistantListV2Schema)
    def get(self, params):
        """List assistants (limit, order, after, before)"""
        return service.listed(params)

    @blp.arguments(AssistantCreateV2Schema(), error_status_code=400)
    @blp.response(200, AssistantV2Schema)
    @documents(502, 504)
    def post(self, fields):
        """Create an assistant"""
        assistant = service.create(fields)
        db.session.commit()
        return service.present(assistant)


@blp.route("/assistants/<assistant_id>")
class AssistantById(MethodView):
    @blp.response(200, AssistantV2Schema)
    def get(self, assistant_id):
        """Retrieve an assistant"""
        return service.present(service.get(assistant_id))

    @blp.arguments(AssistantModifyV2Schema(), error_status_code=400)
    @blp.response(200, AssistantV2Schema)
    @documents(409, 502, 504)
    def post(self, fields, assistant_id):
        """Modify an assistant; fields left out keep their values"""
        assistant = service.modify(service.get(assistant_id), fields)
        db.session.commit()
        return service.present(assistant)

    @blp.response(200, DeletedSchema)
    @documents(502, 504)
    def delete(self, assistant_id):
        """Delete an assistant (its runs and their messages stay; a run still going ends failed)"""
        deleted = service.delete(service.get(assistant_id))
        db.session.commit()
        return deleted
