"""Provider credentials. The key is write-only: responses carry its last 4 characters."""
from marshmallow import fields, validate, validates_schema, ValidationError

from .common import StrictSchema

# Keys and header values go into HTTP headers as they are: a control character (a pasted
# newline) would make the HTTP library quote the header, key and all, in its error.
HEADER_SAFE = validate.Regexp(r"^[\x21-\x7e]+\Z", error="Only printable ASCII characters, without spaces: "
                                                        "check for a pasted newline or space.")

PROVIDERS = ("openai", "azure", "openai_compatible")
APIS = ("chat_completions", "responses", "assistants")


class CredentialSchema(StrictSchema):
    id = fields.String(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    provider = fields.String(validate=validate.OneOf(PROVIDERS), load_default="openai")
    base_url = fields.Url(
        allow_none=True, require_tld=False, schemes={"http", "https"}, validate=validate.Length(max=2048),
        metadata={"description": "Empty for api.openai.com; the server's /v1 URL otherwise."},
    )
    api = fields.String(
        validate=validate.OneOf(APIS),
        metadata={"description": "Backend for threads; default `responses` for api.openai.com, "
                                 "`chat_completions` for any other base_url."},
    )
    api_key = fields.String(
        required=True, load_only=True, validate=[validate.Length(min=1, max=4096), HEADER_SAFE],
        metadata={"description": "Write-only; stored encrypted, never returned."},
    )
    api_key_hint = fields.String(dump_only=True, metadata={"description": "The key's last 4 characters."})
    organization = fields.String(allow_none=True, validate=[validate.Length(max=200), HEADER_SAFE])
    api_version = fields.String(allow_none=True, validate=[validate.Length(max=64), HEADER_SAFE])
    embedding_model = fields.String(allow_none=True, validate=validate.Length(min=1, max=256), metadata={
        "description": "The model new vector stores of this credential embed with; unset: "
                       "text-embedding-3-large (OpenAI, Azure) or nomic-embed-text (other servers)."})
    embedding_dimensions = fields.Integer(
        allow_none=True, validate=validate.Range(min=1, max=8192),
        metadata={"description": "The dimensions asked of the embedding model (unset: 256 for the default "
                                 "OpenAI model, else the model's own)."})
    created_at = fields.DateTime(dump_only=True, format="iso")
    updated_at = fields.DateTime(dump_only=True, format="iso")

    @validates_schema
    def check_provider(self, data, partial, **kwargs):
        provider = data.get("provider")
        if provider == "azure" and not partial and not (data.get("base_url") and data.get("api_version")):
            raise ValidationError("Azure OpenAI needs base_url (the resource endpoint) and api_version.")
        if provider == "openai_compatible" and not partial and not data.get("base_url"):
            raise ValidationError("An OpenAI-compatible server needs its base_url.", "base_url")


class CredentialUpdateSchema(CredentialSchema):
    """PUT: loaded with partial=True, so fields left out keep their values."""
