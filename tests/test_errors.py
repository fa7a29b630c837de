"""The one error contract: {"code", "status", "message"?, "errors"?} for every failure."""
import json

import pytest

from .helpers import AGENTS, ASSISTANTS, auth_for, make_assistant, make_credential


def assert_contract(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    body = response.json
    assert body["code"] == status
    assert isinstance(body["status"], str) and body["status"]
    assert set(body) <= {"code", "status", "message", "errors"}
    return body


def test_400_malformed_json(client, auth):
    response = client.post("/assistants", data="{not json", content_type="application/json", headers=auth)
    body = assert_contract(response, 400)
    assert body["status"] == "Bad Request"


def test_401_missing_key(client):
    response = client.get("/assistants")
    assert_contract(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_404_unknown_route_and_id(client, auth):
    assert client.get("/nowhere", headers=auth).json == {"code": 404, "status": "Not Found",
                                                         "message": "Invalid URL (GET /nowhere)."}
    assert_contract(client.get("/assistants/00000000-0000-0000-0000-000000000000", headers=auth), 404)
    assert_contract(client.get("/credentials/%00", headers=auth), 404)


def test_405_names_the_methods_the_path_takes(client, auth):
    response = client.patch("/assistants", headers=auth, json={})
    assert response.json == {"code": 405, "status": "Method Not Allowed",
                             "message": "Invalid method for URL (PATCH /assistants): use GET, POST."}
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST", "OPTIONS"}


@pytest.mark.parametrize("base", [AGENTS, ASSISTANTS])
def test_the_agents_api_answers_a_path_it_lacks_as_fastapi_does(client, auth, base):
    assert client.get(f"{base}/agent/unknown/path", headers=auth).json == {"detail": "Not Found"}
    wrong_method = client.put(base, headers=auth, json={})
    assert (wrong_method.status_code, wrong_method.json) == (405, {"detail": "Method Not Allowed"})
    assert set(wrong_method.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST", "OPTIONS"}


def test_409(client, auth):
    credential = make_credential(client, auth, name="c", api_key="k")
    make_assistant(client, auth, credential["id"])
    assert_contract(client.delete(f"/credentials/{credential['id']}", headers=auth), 409)


def test_413_body_over_the_limit(client, auth):
    big = {"details": {"model": "gpt-4", "instructions": "x" * (2 * 1024 * 1024)}}
    assert_contract(client.post("/assistants", json=big, headers=auth), 413)
    assert client.get("/assistants", headers=auth).json == []


def test_413_limit_is_configurable(make_app):
    small = make_app(ASSISTANTS_MAX_BODY_BYTES=100)
    headers = auth_for(small)
    response = small.test_client().post("/assistants", json={"details": {"model": "m" * 200}},
                                        headers=headers)
    assert_contract(response, 413)


def test_422_lists_the_field(client, auth):
    body = assert_contract(client.post("/assistants", json={"details": {"model": ""}}, headers=auth), 422)
    assert "details" in body["errors"]["json"]


@pytest.mark.parametrize("payload", ["[]", "null", "42", '"text"'])
def test_non_object_json_is_a_clean_error(client, auth, payload):
    response = client.post("/assistants", data=payload, content_type="application/json", headers=auth)
    body = assert_contract(response, 422)  # valid JSON, of the wrong type: a 422 like any invalid body
    assert body["errors"] == {"json": {"_schema": ["Invalid input type."]}}


def test_500_leaks_no_internals(make_app):
    app = make_app(TESTING=False)

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internal detail /etc/passwd")

    response = app.test_client().get("/boom", headers=auth_for(app))
    body = assert_contract(response, 500)
    assert "secret internal detail" not in response.get_data(as_text=True)
    assert body["message"] == "An internal error occurred."


def test_deeply_nested_json_is_400_not_500(client, auth):
    body = '{"details": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = client.post("/assistants", data=body, content_type="application/json", headers=auth)
    assert response.status_code == 400, response.get_data(as_text=True)[:200]
    assert_contract(response, 400)


def test_answers_keep_the_schema_field_order(client, auth):
    created = client.post("/assistants", json={"details": {"model": "gpt-4", "name": "n"}}, headers=auth)
    body = json.loads(created.get_data(as_text=True))  # a dict keeps the order of the text
    assert list(body) == ["id", "details", "credential", "iconSrc", "type", "createdDate", "updatedDate"]
    assert list(body["details"]) == ["id", "name", "model"]
