"""Compaction items: what POST /v1/responses/compact answers and what a later response may take as input.
The summary is sealed with the app's secret keys (crypto.py: MultiFernet, so the keys rotate) and bound to
the tenant, as OpenAI's encrypted_content is opaque; a chat provider gets it back as context.

    item = seal(summary)          # {"type": "compaction", "id": "cmp_...", "encrypted_content": ...}
    summary_of(item)              # the summary again; 400 for content not sealed here, for this tenant"""
import json

from flask import current_app

from ...crypto import EXTENSION as CIPHER, CredentialUndecryptable
from ...errors import ServiceError
from ...models import new_token_id
from .. import tenant

CONTEXT = "A summary of the conversation before this point (compacted):\n\n"


def seal(summary: str) -> dict:
    sealed = current_app.extensions[CIPHER].encrypt(json.dumps({"tenant": tenant(), "summary": summary}))
    return {"type": "compaction", "id": new_token_id("cmp_"), "encrypted_content": sealed.decode()}


def summary_of(item: dict) -> str:
    try:
        opened = json.loads(current_app.extensions[CIPHER].decrypt(item["encrypted_content"].encode()))
    except (CredentialUndecryptable, ValueError):
        opened = None
    if not isinstance(opened, dict) or opened.get("tenant") != tenant():
        message = ("The compaction item's encrypted_content was not made by this service for this API key's "
                   "tenant.")
        raise ServiceError(400, message, {"json": {"input": [message]}})
    return opened["summary"]


def as_context(item: dict) -> str:
    """The compaction as a chat provider reads it (a system message)."""
    return CONTEXT + summary_of(item)
