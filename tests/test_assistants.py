"""Seed 000 (Flowise's assistants API) through HTTP."""
import json

import pytest

from .helpers import make_assistant, make_credential

SEED_BODY = {
    "id": "d290f1ee-6c54-4b01-90e6-d701748f0851",
    "details": {
        "id": "asst_zbNeYIuXIUSKVHjJkfRo6ilv",
        "name": "assistant",
        "description": "text",
        "model": "gpt-4",
        "instructions": "You are a helpful assistant, do your best to answer question and query",
        "temperature": 1,
        "top_p": 1,
        "tools": ["function", "code_interpreter", "file_search"],
        "tool_resources": {"ANY_ADDITIONAL_PROPERTY": {}},
    },
    "credential": "7db93c02-8d5a-4117-a8f1-3dfb6721b339",
    "iconSrc": "/images/assistant.png",
    "createdDate": "2024-08-24T14:15:22Z",
    "updatedDate": "2024-08-24T14:15:22Z",
}


def seed_body(credential_id):
    body = json.loads(json.dumps(SEED_BODY))
    body["credential"] = credential_id
    return body


def test_seed_example_lifecycle(client, auth):
    credential = make_credential(client, auth)
    created = client.post("/assistants", json=seed_body(credential["id"]), headers=auth)
    assert created.status_code == 200, created.json
    body = created.json
    # Server-owned fields are never taken from the request.
    assert body["id"] != SEED_BODY["id"]
    assert body["createdDate"] != SEED_BODY["createdDate"]
    assert body["details"]["id"].startswith("asst_") and body["details"]["id"] != SEED_BODY["details"]["id"]
    expected_details = dict(SEED_BODY["details"], id=body["details"]["id"])
    assert body["details"] == expected_details
    assert body["credential"] == credential["id"]
    assert body["iconSrc"] == "/images/assistant.png"
    assert body["type"] == "OPENAI"
    assert body["createdDate"] == body["updatedDate"]

    fetched = client.get(f"/assistants/{body['id']}", headers=auth)
    assert fetched.status_code == 200 and fetched.json == body

    listed = client.get("/assistants", headers=auth)
    assert listed.status_code == 200 and listed.json == [body]
    assert json.loads(listed.headers["X-Pagination"])["total"] == 1

    update = seed_body(credential["id"])
    update["details"]["name"] = "renamed"
    update["details"]["temperature"] = 0.2
    updated = client.put(f"/assistants/{body['id']}", json=update, headers=auth)
    assert updated.status_code == 200, updated.json
    assert updated.json["details"]["name"] == "renamed"
    assert updated.json["details"]["temperature"] == 0.2
    assert updated.json["details"]["id"] == body["details"]["id"]
    assert updated.json["id"] == body["id"] and updated.json["createdDate"] == body["createdDate"]
    assert updated.json["updatedDate"] >= body["updatedDate"]

    deleted = client.delete(f"/assistants/{body['id']}", headers=auth)
    assert deleted.status_code == 200 and deleted.json == {"raw": [], "affected": 1}
    assert client.get(f"/assistants/{body['id']}", headers=auth).status_code == 404
    assert client.delete(f"/assistants/{body['id']}", headers=auth).status_code == 404


def test_details_as_json_string_is_returned_as_object(client, auth):
    details = {"model": "gpt-4o", "name": "stringly"}
    response = client.post("/assistants", json={"details": json.dumps(details)}, headers=auth)
    assert response.status_code == 200, response.json
    assert response.json["details"]["model"] == "gpt-4o"
    assert response.json["details"]["name"] == "stringly"
    assert response.json["credential"] is None


def test_what_orjson_refuses_is_answered_all_the_same(client, auth):
    """Answers are written by orjson (fast_json.py), which refuses an integer past 64 bits: such a value (a
    tool's JSON schema may hold one) is written by the standard library instead, never a 500."""
    tool = {"type": "function", "function": {"name": "count", "parameters": {
        "type": "object", "properties": {"n": {"type": "integer", "maximum": 2 ** 70}}}}}
    created = client.post("/assistants",
                          json={"details": {"model": "gpt-4", "name": "café", "tools": [tool]}},
                          headers=auth)
    assert created.status_code == 200, created.json
    response = client.get(f"/assistants/{created.json['id']}", headers=auth)
    assert response.status_code == 200
    assert response.json["details"]["tools"] == [tool] and response.json["details"]["name"] == "café"


@pytest.mark.parametrize("body, field", [
    ({}, "details"),
    ({"details": {}}, "details"),
    ({"details": {"name": "no model"}}, "details"),
    ({"details": "{not json"}, "details"),
    ({"details": "[1, 2]"}, "details"),
    ({"details": {"model": "gpt-4", "temperature": 2.5}}, "details"),
    ({"details": {"model": "gpt-4", "top_p": -0.1}}, "details"),
    ({"details": {"model": "gpt-4", "temperature": "hot"}}, "details"),
    ({"details": {"model": 42}}, "details"),
    ({"details": {"model": "gpt-4", "tools": ["hammer"]}}, "details"),
    ({"details": {"model": "gpt-4", "surprise": True}}, "details"),
    ({"details": {"model": "gpt-4"}, "type": "ANTHROPIC"}, "type"),
    ({"details": {"model": "gpt-4"}, "tenant": "other"}, "tenant"),
    ({"details": {"model": "gpt-4"}, "iconSrc": 7}, "iconSrc"),
])
def test_invalid_bodies_are_422_and_change_nothing(client, auth, body, field):
    response = client.post("/assistants", json=body, headers=auth)
    assert response.status_code == 422, response.json
    assert response.json["code"] == 422 and response.json["status"] == "Unprocessable Entity"
    assert field in response.json["errors"]["json"]
    assert client.get("/assistants", headers=auth).json == []


def test_unknown_credential_is_422(client, auth):
    response = client.post("/assistants", json={"details": {"model": "gpt-4"}, "credential": "nope"},
                           headers=auth)
    assert response.status_code == 422
    assert "credential" in response.json["errors"]["json"]
    assert client.get("/assistants", headers=auth).json == []


def test_server_owned_fields_cannot_be_overwritten_by_put(client, auth):
    created = make_assistant(client, auth)
    response = client.put(f"/assistants/{created['id']}", headers=auth, json={
        "id": "d290f1ee-6c54-4b01-90e6-d701748f0851", "createdDate": "2001-01-01T00:00:00Z",
        "updatedDate": "2001-01-01T00:00:00Z", "details": {"model": "gpt-4", "id": "asst_stolen"},
    })
    assert response.status_code == 200, response.json
    assert response.json["id"] == created["id"]
    assert response.json["createdDate"] == created["createdDate"]
    assert response.json["details"]["id"] == created["details"]["id"]
    assert client.get("/assistants/d290f1ee-6c54-4b01-90e6-d701748f0851", headers=auth).status_code == 404


def test_put_keeps_fields_left_out(client, auth):
    created = make_assistant(client, auth, name="a", extra={"iconSrc": "/i.png", "type": "CUSTOM"})
    response = client.put(f"/assistants/{created['id']}", json={"iconSrc": "/j.png"}, headers=auth)
    assert response.status_code == 200
    assert response.json["details"] == created["details"]
    assert response.json["type"] == "CUSTOM" and response.json["iconSrc"] == "/j.png"


def test_list_pagination_and_type_filter(client, auth):
    ids = []
    for index in range(5):
        kind = "AZURE" if index % 2 else "OPENAI"
        ids.append(make_assistant(client, auth, name=f"a{index}", extra={"type": kind})["id"])
    page = client.get("/assistants?page=2&page_size=2", headers=auth)
    assert page.status_code == 200
    assert [a["id"] for a in page.json] == ids[2:4]
    assert json.loads(page.headers["X-Pagination"]) == {
        "total": 5, "total_pages": 3, "first_page": 1, "last_page": 3, "page": 2,
        "previous_page": 1, "next_page": 3}
    azure = client.get("/assistants?type=AZURE", headers=auth).json
    assert [a["id"] for a in azure] == [ids[1], ids[3]]
    assert client.get("/assistants?type=BAD", headers=auth).status_code == 422
    assert client.get("/assistants?page=0", headers=auth).status_code == 422


def test_other_tenants_cannot_see_or_touch(client, auth, other_auth):
    created = make_assistant(client, auth)
    assert client.get(f"/assistants/{created['id']}", headers=other_auth).status_code == 404
    assert client.put(f"/assistants/{created['id']}", json={"iconSrc": "x"},
                      headers=other_auth).status_code == 404
    assert client.delete(f"/assistants/{created['id']}", headers=other_auth).status_code == 404
    assert client.get("/assistants", headers=other_auth).json == []
    assert client.get(f"/assistants/{created['id']}", headers=auth).json == created


def test_malformed_id_is_404(client, auth):
    assert client.get("/assistants/not-a-uuid", headers=auth).status_code == 404
    assert client.get("/assistants/" + "x" * 500, headers=auth).status_code == 404


def test_function_tool_definitions_are_kept(client, auth):
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    response = client.post("/assistants",
                           json={"details": {"model": "gpt-4", "tools": ["code_interpreter", tool]}},
                           headers=auth)
    assert response.status_code == 200, response.json
    assert response.json["details"]["tools"] == ["code_interpreter", tool]


def test_nul_bytes_unicode_and_long_strings(client, auth):
    nul = client.post("/assistants", json={"details": {"model": "gpt-4", "name": "a\x00b"}}, headers=auth)
    assert nul.status_code == 422
    assert client.get("/assistants?type=OPE\x00NAI", headers=auth).status_code == 422
    assert client.get("/assistants/abc\x00def", headers=auth).status_code == 404
    unicode = client.post("/assistants", headers=auth, json={
        "details": {"model": "gpt-4", "name": "助手 🤖 ñ", "instructions": "Ω" * 10_000}})
    assert unicode.status_code == 200
    assert client.get(f"/assistants/{unicode.json['id']}", headers=auth).json["details"]["name"] == "助手 🤖 ñ"
    too_long = client.post("/assistants", json={"details": {"model": "gpt-4", "name": "n" * 257}},
                           headers=auth)
    assert too_long.status_code == 422
