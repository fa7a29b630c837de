"""/credentials: CRUD, write-only encrypted keys, 409 while in use, key rotation."""
from cryptography.fernet import Fernet
from sqlalchemy import select

from assistants_app.extensions import db
from assistants_app.models import Credential

from .helpers import make_assistant, make_credential

SECRET = "sk-proj-VERYSECRETvalue-9876"


def test_crud_and_key_never_returned(client, auth):
    created = client.post("/credentials", headers=auth, json={
        "name": "openai", "provider": "openai", "api_key": SECRET, "organization": "org-1"})
    assert created.status_code == 201, created.json
    body = created.json
    assert body["api"] == "responses"  # api.openai.com's default
    assert body["api_key_hint"] == "9876"
    assert "api_key" not in body and SECRET not in created.get_data(as_text=True)

    local = make_credential(client, auth, base_url="http://127.0.0.1:11434/v1")
    assert local["api"] == "chat_completions"

    listed = client.get("/credentials", headers=auth)
    assert [c["id"] for c in listed.json] == [body["id"], local["id"]]
    fetched = client.get(f"/credentials/{body['id']}", headers=auth)
    assert fetched.json == body

    updated = client.put(f"/credentials/{body['id']}", headers=auth,
                         json={"name": "renamed", "api_key": "sk-new-0000"})
    assert updated.status_code == 200
    assert updated.json["name"] == "renamed" and updated.json["api_key_hint"] == "0000"
    assert updated.json["organization"] == "org-1"

    for response in (created, listed, fetched, updated):
        assert SECRET not in response.get_data(as_text=True)
    assert client.delete(f"/credentials/{body['id']}", headers=auth).status_code == 204
    assert client.get(f"/credentials/{body['id']}", headers=auth).status_code == 404


def test_key_is_encrypted_at_rest(app, client, auth):
    created = make_credential(client, auth, api_key=SECRET)
    with app.app_context():
        row = db.session.get(Credential, created["id"])
        assert SECRET.encode() not in row.api_key_ciphertext
        assert app.extensions["credential_cipher"].decrypt(row.api_key_ciphertext) == SECRET


def test_delete_in_use_is_409(client, auth):
    credential = make_credential(client, auth)
    make_assistant(client, auth, credential["id"])
    response = client.delete(f"/credentials/{credential['id']}", headers=auth)
    assert response.status_code == 409 and response.json["code"] == 409
    assert client.get(f"/credentials/{credential['id']}", headers=auth).status_code == 200


def test_validation(client, auth):
    cases = [
        {"name": "x"},  # no key
        {"name": "x", "api_key": "k", "provider": "anthropic"},
        {"name": "x", "api_key": "k", "api": "telepathy"},
        {"name": "x", "api_key": "k", "base_url": "not a url"},
        {"name": "x", "api_key": "k", "provider": "openai_compatible"},  # needs base_url
        # needs api_version
        {"name": "x", "api_key": "k", "provider": "azure", "base_url": "https://r.openai.azure.com"},
        {"name": "", "api_key": "k"},
        {"name": "x", "api_key": "k", "api_key_hint": "spoof"},
    ]
    for body in cases:
        response = client.post("/credentials", json=body, headers=auth)
        assert response.status_code == 422, (body, response.json)
    assert client.get("/credentials", headers=auth).json == []


def test_other_tenant_cannot_use_or_see(client, auth, other_auth):
    credential = make_credential(client, auth)
    assert client.get(f"/credentials/{credential['id']}", headers=other_auth).status_code == 404
    assert client.delete(f"/credentials/{credential['id']}", headers=other_auth).status_code == 404
    response = client.post("/assistants",
                           json={"details": {"model": "gpt-4"}, "credential": credential["id"]},
                           headers=other_auth)
    assert response.status_code == 422


def test_rotate_key_reencrypts_under_the_first_key(app_config, make_app, client, auth):
    created = make_credential(client, auth, api_key=SECRET)
    old_keys = app_config["ASSISTANTS_SECRET_KEYS"]
    new_key = Fernet.generate_key().decode()
    rotated_app = make_app(ASSISTANTS_SECRET_KEYS=f"{new_key},{old_keys}")
    result = rotated_app.test_cli_runner().invoke(args=["credentials", "rotate-key"])
    assert result.exit_code == 0, result.output
    assert "1 credential" in result.output
    only_new = make_app(ASSISTANTS_SECRET_KEYS=new_key)
    with only_new.app_context():
        row = db.session.scalar(select(Credential).where(Credential.id == created["id"]))
        assert only_new.extensions["credential_cipher"].decrypt(row.api_key_ciphertext) == SECRET
