"""Provider credentials: encrypted keys, and the adapter Connection an assistant talks through."""
from urllib.parse import urlparse

from flask import current_app
from sqlalchemy import select

from ..crypto import CredentialUndecryptable
from ..errors import Conflict, ServiceError, invalid
from ..extensions import db, openai_adapter, secret_keys
from ..models import Assistant, Credential
from ..openai_adapter import Connection
from . import is_plausible_id, owned_select, tenant

OPENAI_HOST = "api.openai.com"
# Where a credential's key goes: changing one of these needs the key again in the same request,
# or a tenant's key holder could point a stored key at a server of theirs.
ADDRESS_FIELDS = ("base_url", "provider", "api", "api_version")


class ProviderNotConfigured(ServiceError):
    def __init__(self, message: str):
        super().__init__(502, message)


def cipher():
    return secret_keys.cipher()


def default_api(base_url: str | None) -> str:
    """Responses (with Conversations) on api.openai.com; Chat Completions everywhere else."""
    if not base_url or urlparse(base_url).hostname == OPENAI_HOST:
        return "responses"
    return "chat_completions"


def key_hint(api_key: str) -> str:
    return api_key[-4:] if len(api_key) >= 8 else ""


def _check_provider(credential: Credential) -> None:
    if credential.provider == "azure" and not (credential.base_url and credential.api_version):
        raise invalid("api_version", "Azure OpenAI needs base_url (the resource endpoint) and api_version.")
    if credential.provider == "openai_compatible" and not credential.base_url:
        raise invalid("base_url", "An OpenAI-compatible server needs its base_url.")


def _check_address(base_url: str | None) -> None:
    """A tenant's credential reaches public addresses, or what PROVIDER_ALLOWED_HOSTS allows."""
    problem = openai_adapter.provider_url_problem(base_url) if base_url else None
    if problem:
        raise invalid("base_url", problem)


def create_credential(fields: dict) -> Credential:
    api_key = fields.pop("api_key")
    credential = Credential(tenant=tenant(), **fields)
    credential.api = fields.get("api") or default_api(credential.base_url)
    credential.api_key_ciphertext = cipher().encrypt(api_key)
    credential.api_key_hint = key_hint(api_key)
    _check_provider(credential)
    _check_address(credential.base_url)
    db.session.add(credential)
    return credential


def update_credential(credential: Credential, fields: dict) -> Credential:
    api_key = fields.pop("api_key", None)
    moved = [name for name in ADDRESS_FIELDS if name in fields and fields[name] != getattr(credential, name)]
    if moved and api_key is None:
        raise invalid("api_key", f"Changing {', '.join(moved)} sends the stored key somewhere else: "
                                 "send the api_key for the new address in the same request.")
    if "base_url" in moved:
        _check_address(fields["base_url"])
    for name, value in fields.items():
        setattr(credential, name, value)
    if api_key is not None:
        credential.api_key_ciphertext = cipher().encrypt(api_key)
        credential.api_key_hint = key_hint(api_key)
    _check_provider(credential)
    return credential


def delete_credential(credential: Credential) -> None:
    in_use = db.session.scalar(select(Assistant.id).where(Assistant.credential_id == credential.id).limit(1))
    if in_use:
        raise Conflict("This credential is used by at least one assistant; delete or move those first.")
    db.session.delete(credential)


def find_credential(credential_id: str | None) -> Credential | None:
    """The caller's credential by id, for an assistant to use; 422 when it does not exist."""
    if credential_id is None:
        return None
    credential = None
    if is_plausible_id(credential_id):
        credential = db.session.scalar(owned_select(Credential), {"id": credential_id, "tenant": tenant()})
    if credential is None:
        raise invalid("credential", f"No credential with id {credential_id[:100]!r}.")
    return credential


def connection_for(credential: Credential | None) -> Connection:
    """What the adapter needs to reach this credential's provider (the app default for None)."""
    if credential is None:
        return default_connection()
    try:
        api_key = cipher().decrypt(credential.api_key_ciphertext)
    except CredentialUndecryptable:
        raise ProviderNotConfigured(
            f"Credential {credential.name!r} ({credential.id}) cannot be decrypted with the configured "
            "ASSISTANTS_SECRET_KEYS: add the key it was stored with, or store its API key again."
        ) from None
    return Connection(
        cache_key=f"{credential.id}:{credential.updated_at.isoformat()}",
        api=credential.api,
        api_key=api_key,
        base_url=credential.base_url,
        organization=credential.organization,
        api_version=credential.api_version,
        provider=credential.provider,
    )


def backend_api(credential: Credential | None) -> str:
    """Which backend drives this credential's threads, without touching its key."""
    if credential is not None:
        return credential.api
    config = current_app.config
    return config.get("OPENAI_API") or default_api(config.get("OPENAI_BASE_URL"))


def default_connection() -> Connection:
    config = current_app.config
    base_url, api_key = config.get("OPENAI_BASE_URL"), config.get("OPENAI_API_KEY")
    if not base_url and not api_key:
        raise ProviderNotConfigured(
            "No provider is configured for this assistant: give it a credential, or set "
            "OPENAI_API_KEY (and OPENAI_BASE_URL for a server other than api.openai.com)."
        )
    return Connection(
        cache_key="default",
        api=backend_api(None),
        # Local servers (Ollama, vLLM) take any key, but the client needs one.
        api_key=api_key or "not-needed",
        base_url=base_url,
        provider="openai" if not base_url else "openai_compatible",
        trusted=True,  # the operator's own setting: any address
    )


def rotate_all_keys() -> int:
    """Re-encrypt every credential's key under the first ASSISTANTS_SECRET_KEYS key."""
    count = 0
    for credential in db.session.scalars(select(Credential)):
        credential.api_key_ciphertext = cipher().rotate(credential.api_key_ciphertext)
        count += 1
    db.session.commit()
    return count
