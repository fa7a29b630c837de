"""Provider credentials (/credentials): the key is write-only and stored encrypted."""
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from ..database import reads_only
from ..extensions import db
from ..models import Credential
from ..schemas.credentials import CredentialSchema, CredentialUpdateSchema
from ..services import credentials as service
from ..services import get_owned, paginate, tenant

blp = Blueprint("credentials", __name__, url_prefix="/credentials",
                description="Provider connections: base URL, backend, and an encrypted API key.")


@blp.route("")
class Credentials(MethodView):
    @blp.paginate()
    @blp.response(200, CredentialSchema(many=True))
    @reads_only
    def get(self, pagination_parameters):
        """List credentials"""
        query = select(Credential).where(Credential.tenant == tenant())
        return paginate(query, pagination_parameters, Credential.created_at, Credential.id)

    @blp.arguments(CredentialSchema())
    @blp.response(201, CredentialSchema)
    def post(self, fields):
        """Create a credential"""
        credential = service.create_credential(fields)
        db.session.commit()
        return credential


@blp.route("/<credential_id>")
class CredentialById(MethodView):
    @blp.response(200, CredentialSchema)
    @reads_only
    def get(self, credential_id):
        """Get a credential (its key is never returned)"""
        return get_owned(Credential, credential_id)

    @blp.arguments(CredentialUpdateSchema(partial=True))
    @blp.response(200, CredentialSchema)
    def put(self, fields, credential_id):
        """Update a credential; fields left out keep their values"""
        credential = service.update_credential(get_owned(Credential, credential_id), fields)
        db.session.commit()
        return credential

    @blp.response(204)
    @blp.alt_response(409, description="An assistant still uses this credential.")
    def delete(self, credential_id):
        """Delete a credential no assistant uses"""
        service.delete_credential(get_owned(Credential, credential_id))
        db.session.commit()
