"""Bearer API keys: hashed at rest, revocable, tenant-scoped; the CLI that manages them."""
import time

from sqlalchemy import select

from assistants_app.auth import digest, revoke_api_key
from assistants_app.extensions import db
from assistants_app.models import ApiKey

from .helpers import headers_for, make_key


def test_public_routes_need_no_key(client):
    assert client.get("/health").json == {"status": "ok"}
    spec = client.get("/openapi.json")
    assert spec.status_code == 200 and spec.json["openapi"].startswith("3.")
    docs = client.get("/docs")
    assert docs.status_code == 200 and b"swagger-ui" in docs.data
    assert b"cdn" not in docs.data.lower()
    asset = client.get("/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000


def test_wrong_and_malformed_keys_are_401(client, api_key):
    for header in ("Bearer sk-asst-wrong", "Basic abc", "Bearer ", api_key, f"Token {api_key}"):
        response = client.get("/assistants", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_cli_create_list_revoke(app):
    runner = app.test_cli_runner()
    created = runner.invoke(args=["api-keys", "create", "--name", "ci", "--tenant", "acme"])
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    assert key.startswith("sk-asst-")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/assistants", headers=headers).status_code == 200

    with app.app_context():
        row = db.session.scalar(select(ApiKey).where(ApiKey.name == "ci"))
        assert row.tenant == "acme"
        assert key not in (row.key_digest, row.key_prefix) and len(row.key_digest) == 64
        key_id = row.id
    listed = runner.invoke(args=["api-keys", "list"])
    assert "ci" in listed.output and key not in listed.output

    revoked = runner.invoke(args=["api-keys", "revoke", str(key_id)])
    assert revoked.exit_code == 0
    assert client.get("/assistants", headers=headers).status_code == 401
    assert runner.invoke(args=["api-keys", "revoke", "999999"]).exit_code != 0


def test_a_key_revoked_by_another_worker_stops_working_within_a_second(make_app):
    """Each process remembers a valid key for auth.KEY_CACHE_SECONDS: a key revoked by another worker, host or
    the CLI is refused by this one within a second at most."""
    worker, elsewhere = make_app(), make_app()
    key = make_key(worker)
    client = worker.test_client()
    assert client.get("/assistants", headers=headers_for(key)).status_code == 200  # remembered from here on
    with elsewhere.app_context():
        revoke_api_key(db.session.scalar(select(ApiKey).where(ApiKey.key_digest == digest(key))))
    time.sleep(1.05)
    assert client.get("/assistants", headers=headers_for(key)).status_code == 401


def test_bootstrap_creates_one_key_only_on_an_empty_database(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["api-keys", "bootstrap"])
    key = first.output.strip().splitlines()[-1]
    assert key.startswith("sk-asst-")
    assert runner.invoke(args=["api-keys", "bootstrap"]).output == ""
    assert app.test_client().get("/assistants", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_openapi_documents_bearer_security(client):
    spec = client.get("/openapi.json").json
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["paths"]["/health"]["get"]["security"] == []
    assert "/assistants/{assistant_id}" in spec["paths"]


def test_cors_lets_browser_frontends_call_with_a_bearer_key(client, auth):
    preflight = client.options("/assistants", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    response = client.get("/assistants", headers={**auth, "Origin": "https://app.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "X-Pagination" in response.headers["Access-Control-Expose-Headers"]
