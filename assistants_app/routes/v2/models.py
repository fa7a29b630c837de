"""/v1/models: the models the key's assistants can use (services/v2/models.py says which)."""
from flask.views import MethodView

from ...database import reads_only
from ...schemas.v2.models import ModelListV2Schema, ModelV2Schema
from ...services.v2 import models as service
from .blueprint import blp, documents


@blp.route("/models")
class Models(MethodView):
    @blp.response(200, ModelListV2Schema)
    @documents(429, 502, 504)
    @reads_only
    def get(self):
        """List models: the default provider's, then the tenant's credentials' (a failing one left out)"""
        return service.listed()


@blp.route("/models/<path:model_id>")
class ModelById(MethodView):
    @blp.response(200, ModelV2Schema)
    @documents(404, 429, 502, 504)
    @reads_only
    def get(self, model_id):
        """Retrieve a model (404 model_not_found when no provider of the key offers it)"""
        return service.get(model_id)
