"""The routes that need no API key: health, and the docs page's own assets."""
import swagger_ui_bundle
from flask import Blueprint, jsonify, send_from_directory
from flask_smorest import Blueprint as ApiBlueprint
from sqlalchemy import text

from ..errors import SERVICE
from ..extensions import db
from ..schemas.common import StrictSchema
from marshmallow import fields

blp = ApiBlueprint("health", __name__, description="Liveness and readiness (no API key needed).")
assets = Blueprint("public", __name__)


class HealthSchema(StrictSchema):
    status = fields.String(metadata={"example": "ok"})


@blp.route("/health")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
@blp.alt_response(503, description="The database does not answer.")
def health():
    """Is the service up, and does its database answer?"""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        db.session.rollback()
        # A Response, not a dict: @blp.response would serialize it through HealthSchema.
        return jsonify(SERVICE.body(503, "The database does not answer.")), 503
    return {"status": "ok"}


@assets.route("/docs/assets/<path:filename>")
def swagger_ui_asset(filename):
    # Swagger UI's files ship in the swagger-ui-bundle package: the docs page works offline.
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)
