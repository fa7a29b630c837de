"""An over-long URL (414) or header field (431) gets a JSON answer in the error shape of the API whose
path it is, from the app; gunicorn's own limits (gunicorn.conf.py) lie above the app's so such a
request reaches it, and only past them does gunicorn answer itself, in HTML."""
import http.client

import pytest

from assistants_app.request_limits import MAX_HEADER_BYTES, MAX_URL_BYTES

from .helpers import AGENTS

LONG_URL = {
    "/v1/assistants": lambda message: {"error": {"message": message, "type": "invalid_request_error",
                                                 "param": None, "code": None}},
    AGENTS: lambda message: {"detail": message},
    "/assistants": lambda message: {"code": 414, "status": "Request URI Too Long", "message": message},
    "/nowhere": lambda message: {"code": 414, "status": "Request URI Too Long", "message": message},
}
URL_MESSAGE = f"The request URL is longer than {MAX_URL_BYTES} bytes."


def padded(path: str, length: int) -> str:
    """``path`` with a query string that makes the URL ``length`` bytes long."""
    return f"{path}?q=" + "x" * (length - len(path) - 3)


@pytest.mark.parametrize("path", LONG_URL)
def test_a_url_over_the_limit_is_414_in_its_apis_shape(client, auth, path):
    response = client.get(padded(path, MAX_URL_BYTES + 1), headers=auth)
    assert (response.status_code, response.json) == (414, LONG_URL[path](URL_MESSAGE))
    assert client.get(padded(path, MAX_URL_BYTES), headers=auth).status_code != 414


def test_a_header_over_the_limit_is_431_in_its_apis_shape(client, auth):
    too_big = {**auth, "X-Trace": "t" * (MAX_HEADER_BYTES - len("X-Trace: ") + 1)}
    message = f"The request header 'X-Trace' is larger than {MAX_HEADER_BYTES} bytes."
    response = client.get("/v1/threads/thread_x", headers=too_big)
    assert (response.status_code, response.json["error"]["message"]) == (431, message)
    response = client.get(f"{AGENTS}/agent_x", headers=too_big)
    assert (response.status_code, response.json) == (431, {"detail": message})
    response = client.get("/assistants", headers=too_big)
    assert response.status_code == 431 and response.json["status"] == "Request Header Fields Too Large"
    fits = {**auth, "X-Trace": "t" * (MAX_HEADER_BYTES - len("X-Trace: "))}
    assert client.get("/assistants", headers=fits).status_code == 200


def test_a_refused_request_changes_nothing(client, auth):
    response = client.post(padded("/assistants", MAX_URL_BYTES + 100), headers=auth,
                           json={"details": {"model": "gpt-4"}})
    assert response.status_code == 414
    assert client.get("/assistants", headers=auth).json == []


def raw_get(server, path: str, headers: dict) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {server.api_key}", **headers})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


def test_gunicorn_lets_them_through_to_the_app_and_still_guards_past_its_own_limits(live_server):
    server = live_server(workers=1)
    status, kind, body = raw_get(server, padded("/v1/assistants", MAX_URL_BYTES + 1000), {})
    assert (status, kind) == (414, "application/json") and b'"The request URL is longer than' in body
    status, kind, _ = raw_get(server, padded("/v1/assistants", 9000), {})  # past gunicorn's 8190
    assert status == 414 and "json" not in kind
    status, kind, body = raw_get(server, "/assistants", {"X-Trace": "t" * 12_000})
    assert (status, kind) == (431, "application/json") and b"'X-Trace' is larger than" in body
    status, kind, _ = raw_get(server, "/assistants", {"X-Trace": "t" * 20_000})  # past gunicorn's 16384
    assert status == 431 and "json" not in kind
    assert raw_get(server, "/assistants", {})[0] == 200
