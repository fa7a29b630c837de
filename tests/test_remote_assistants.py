"""Seed 000 with an `assistants`-backend credential: the provider keeps a twin."""
from .fake_openai import Fault
from .helpers import make_assistant, make_credential


def assistants_credential(client, auth, fake, **overrides):
    return make_credential(client, auth, base_url=fake.base_url, api="assistants", **overrides)


def test_create_update_delete_act_on_the_remote_assistant(client, auth, fake):
    credential = assistants_credential(client, auth, fake)
    created = client.post("/assistants", headers=auth, json={
        "credential": credential["id"],
        "details": {"model": "gpt-4", "name": "remote", "instructions": "Be brief.", "temperature": 0.5,
                    "tools": ["code_interpreter"]},
    })
    assert created.status_code == 200, created.json
    remote_id = created.json["details"]["id"]
    assert remote_id in fake.assistants
    remote = fake.assistants[remote_id]
    assert (remote["model"], remote["name"], remote["instructions"]) == ("gpt-4", "remote", "Be brief.")
    assert remote["tools"] == [{"type": "code_interpreter"}]
    sent = fake.requests_to("/assistants")[0]
    assert sent.headers.get("authorization") == "Bearer sk-credential-secret-1234"

    updated = client.put(f"/assistants/{created.json['id']}", headers=auth,
                         json={"details": {"model": "gpt-4o", "name": "renamed"}})
    assert updated.status_code == 200, updated.json
    assert updated.json["details"]["id"] == remote_id
    assert fake.assistants[remote_id]["model"] == "gpt-4o"
    assert fake.assistants[remote_id]["name"] == "renamed"

    # Without isDeleteBoth the remote twin stays.
    kept = make_assistant(client, auth, credential["id"])
    assert client.delete(f"/assistants/{kept['id']}", headers=auth).status_code == 200
    assert kept["details"]["id"] in fake.assistants

    deleted = client.delete(f"/assistants/{created.json['id']}?isDeleteBoth=true", headers=auth)
    assert deleted.status_code == 200
    assert remote_id not in fake.assistants


def test_adopts_an_existing_remote_assistant_named_in_details_id(client, auth, fake):
    credential = assistants_credential(client, auth, fake)
    first = make_assistant(client, auth, credential["id"])
    client.delete(f"/assistants/{first['id']}", headers=auth)  # local row gone, remote twin kept
    adopted = client.post("/assistants", headers=auth, json={
        "credential": credential["id"], "details": {"model": "gpt-4o", "id": first["details"]["id"]}})
    assert adopted.status_code == 200, adopted.json
    assert adopted.json["details"]["id"] == first["details"]["id"]
    assert fake.assistants[first["details"]["id"]]["model"] == "gpt-4o"
    again = client.post("/assistants", headers=auth, json={
        "credential": credential["id"], "details": {"model": "gpt-4o", "id": first["details"]["id"]}})
    assert again.status_code == 409


def test_provider_failure_on_create_writes_nothing(client, auth, fake):
    credential = assistants_credential(client, auth, fake)
    fake.add_fault(Fault(kind="status", status=500, path="/assistants", times=5))
    response = client.post("/assistants", headers=auth,
                           json={"credential": credential["id"], "details": {"model": "gpt-4"}})
    assert response.status_code == 502
    assert "sk-credential-secret" not in response.get_data(as_text=True)
    assert client.get("/assistants", headers=auth).json == []


def test_rejected_credential_is_502_without_the_key(client, auth, fake):
    credential = assistants_credential(client, auth, fake, api_key="sk-bad")
    response = client.post("/assistants", headers=auth,
                           json={"credential": credential["id"], "details": {"model": "gpt-4"}})
    assert response.status_code == 502
    assert "credential" in response.json["message"].lower()
    assert "sk-bad" not in response.get_data(as_text=True)


def test_delete_both_with_unreachable_provider_deletes_nothing(client, auth, fake):
    credential = assistants_credential(client, auth, fake)
    created = make_assistant(client, auth, credential["id"])
    client.put(f"/credentials/{credential['id']}", headers=auth,
               json={"base_url": fake.refused_base_url(), "api_key": "sk-moved"})
    response = client.delete(f"/assistants/{created['id']}?isDeleteBoth=true", headers=auth)
    assert response.status_code == 502
    assert client.get(f"/assistants/{created['id']}", headers=auth).status_code == 200
