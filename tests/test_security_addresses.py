"""Where a stored provider key may go, as an attacker holding one tenant's API key would try it:
a stored key cannot be pointed at another server, tenants' credentials reach no internal
address (in any spelling, at save time and at connect time), redirects are not followed, and
nothing of a provider's reply but the answer reaches a client."""
import json

import pytest
from sqlalchemy import text

from assistants_app.extensions import db
from assistants_app.openai_adapter.addresses import HOW_TO_ALLOW, AddressPolicy, is_public, parse_ip

from .helpers import AGENTS, make_assistant, make_thread
from .listeners import Listener

REAL_KEY = "sk-real-provider-key-0123456789"


def port_of(url: str) -> int:
    return int(url.split(":")[2].split("/")[0])


@pytest.fixture
def thief():
    with Listener("thief") as listener:
        yield listener


@pytest.fixture
def internal():
    """An internal service on loopback that no allowlist entry names."""
    with Listener("internal", body=b'{"object": "list", "data": [{"id": "internal-secret"}]}') as listener:
        yield listener


@pytest.fixture
def app_config(app_config, fake_server, thief):
    # The fake and the thief's server are allowed: these tests are about the other guards.
    return dict(app_config, PROVIDER_ALLOWED_HOSTS=f"127.0.0.1:{port_of(fake_server.base_url)},"
                                                   f"127.0.0.1:{thief.port}")


def create_credential(client, auth, base_url, api_key=REAL_KEY, **fields):
    return client.post("/credentials", headers=auth, json={
        "name": "provider", "provider": "openai_compatible", "base_url": base_url, "api_key": api_key,
        **fields})


def test_a_stored_key_cannot_be_pointed_at_another_server(client, auth, fake, thief):
    credential = create_credential(client, auth, fake.base_url).json
    url = f"/credentials/{credential['id']}"

    moved = client.put(url, headers=auth, json={"base_url": thief.base_url})
    assert moved.status_code == 422
    assert list(moved.json["errors"]["json"]) == ["api_key"]
    assert "base_url" in moved.json["errors"]["json"]["api_key"][0]
    for change in ({"api": "responses"}, {"api_version": "2024-10-21"}, {"provider": "azure"}):
        refused = client.put(url, headers=auth, json=change)
        assert refused.status_code == 422 and list(refused.json["errors"]["json"]) == ["api_key"], change

    models = client.get("/openai/get_models", headers=auth, query_string={"credential": credential["id"]})
    assert models.status_code == 200 and models.json == {"models": ["gpt-4", "gpt-4o", "gpt-4o-mini"]}
    assert thief.requests == []
    assert fake.requests_to("/models")[-1].headers["authorization"] == f"Bearer {REAL_KEY}"

    # Sending the same address back (clients PUT whole objects) is no move.
    same = client.put(url, headers=auth, json={"base_url": fake.base_url, "name": "renamed"})
    assert same.status_code == 200 and same.json["name"] == "renamed"
    # With a key for the new address, the move is the owner's: only that key goes there.
    with_key = client.put(url, headers=auth,
                          json={"base_url": thief.base_url, "api_key": "sk-for-the-new-host"})
    assert with_key.status_code == 200
    client.get("/openai/get_models", headers=auth, query_string={"credential": credential["id"]})
    assert [r.headers["authorization"] for r in thief.requests] == ["Bearer sk-for-the-new-host"]


INTERNAL_SPELLINGS = [
    "http://127.0.0.1:{port}/v1", "http://localhost:{port}/v1", "http://2130706433:{port}/v1",
    "http://0177.0.0.1:{port}/v1", "http://0x7f.0.0.1:{port}/v1", "http://127.1:{port}/v1",
    "http://[::ffff:127.0.0.1]:{port}/v1", "http://[::1]:{port}/v1", "http://0.0.0.0:{port}/v1",
    "http://169.254.169.254/latest/meta-data", "http://10.0.0.7/v1", "http://192.168.1.1/v1",
    "http://100.64.0.1/v1", "http://[fe80::1]/v1", "http://[fd00::1]/v1", "http://224.0.0.1/v1",
    "http://[2002:7f00:1::]/v1",
]


@pytest.mark.parametrize("spelling", INTERNAL_SPELLINGS)
def test_internal_addresses_are_refused_in_every_spelling(client, auth, fake, internal, spelling):
    url = spelling.format(port=internal.port)
    created = create_credential(client, auth, url)
    assert created.status_code == 422, created.json
    message = created.json["errors"]["json"]["base_url"][0]
    assert "PROVIDER_ALLOWED_HOSTS" in message or message == "Not a valid URL."
    existing = create_credential(client, auth, fake.base_url).json
    updated = client.put(f"/credentials/{existing['id']}", headers=auth,
                         json={"base_url": url, "api_key": "k"})
    assert updated.status_code == 422 and "base_url" in updated.json["errors"]["json"]
    assert internal.requests == []


# IPv6 forms a translator (NAT64, SIIT) or the host's stack turns into an IPv4 address: judged by
# the address they stand for. (address in the URL, what it stands for)
TRANSLATED_INTERNAL = [
    ("64:ff9b::7f00:1", "127.0.0.1"), ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
    ("64:ff9b::a00:7", "10.0.0.7"), ("::ffff:0:7f00:1", "127.0.0.1"), ("::ffff:0:c0a8:101", "192.168.1.1"),
    ("::7f00:1", "127.0.0.1"), ("::a00:7", "10.0.0.7"),
]
LOCAL_USE_NAT64 = ["64:ff9b:1::808:808", "64:ff9b:1:8:808:8:0:1", "64:ff9b:1::7f00:1"]


def refused_body(message):
    return {"code": 422, "status": "Unprocessable Entity", "message": "The request is invalid.",
            "errors": {"json": {"base_url": [message]}}}


@pytest.mark.parametrize("address, stands_for", TRANSLATED_INTERNAL)
def test_translated_forms_of_internal_addresses_are_refused(client, auth, fake, address, stands_for):
    created = create_credential(client, auth, f"http://[{address}]:8080/v1")
    assert created.status_code == 422
    assert created.json == refused_body(
        f"{address} is not a public address ({address} stands for {stands_for}). {HOW_TO_ALLOW}")
    existing = create_credential(client, auth, fake.base_url).json
    updated = client.put(f"/credentials/{existing['id']}", headers=auth,
                         json={"base_url": f"http://[{address}]/v1", "api_key": "k"})
    assert updated.status_code == 422 and updated.json == created.json
    assert client.get("/credentials", headers=auth).json[0]["base_url"] == fake.base_url


@pytest.mark.parametrize("address", LOCAL_USE_NAT64)
def test_the_local_use_nat64_prefix_is_refused_whole(client, auth, address):
    created = create_credential(client, auth, f"http://[{address}]/v1")
    assert created.status_code == 422
    assert created.json == refused_body(f"{address} is not a public address ({address} is in the NAT64 "
                                        f"local-use prefix 64:ff9b:1::/48). {HOW_TO_ALLOW}")


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "::ffff:0:808:808", "2606:4700::5efe:a00:1"])
def test_translated_forms_of_public_addresses_and_global_isatap_ids_are_allowed(client, auth, address):
    created = create_credential(client, auth, f"http://[{address}]/v1")
    assert created.status_code == 201, created.json
    assert created.json["base_url"] == f"http://[{address}]/v1"


@pytest.mark.parametrize("url, problem", [
    ("http://example.com/v1?x=", "query string"), ("http://example.com/v1#top", "fragment"),
    ("http://user:password@example.com/v1", "user name"),
])
def test_urls_that_would_pick_the_path_or_carry_secrets_are_refused(client, auth, url, problem):
    created = create_credential(client, auth, url)
    assert created.status_code == 422 and problem in created.json["errors"]["json"]["base_url"][0]


@pytest.mark.parametrize("spelling", ["http://localhost:{port}/v1", "http://2130706433:{port}/v1",
                                      "http://0x7f.1:{port}/v1", "http://[::ffff:127.0.0.1]:{port}/v1",
                                      "http://[64:ff9b::7f00:1]:{port}/v1",
                                      "http://[64:ff9b:1::7f00:1]:{port}/v1",
                                      "http://[::ffff:0:7f00:1]:{port}/v1", "http://[::7f00:1]:{port}/v1"])
def test_connect_time_check_refuses_what_the_save_time_check_did_not_see(app, client, auth, fake, internal,
                                                                         spelling):
    # A name that resolved to a public address when saved may resolve to an internal one later
    # (DNS rebinding): the row is changed behind the API's back to stand for that.
    credential = create_credential(client, auth, fake.base_url).json
    with app.app_context():
        db.session.execute(text("UPDATE credentials SET base_url = :url WHERE id = :id"),
                           {"url": spelling.format(port=internal.port), "id": credential["id"]})
        db.session.commit()
    models = client.get("/openai/get_models", headers=auth, query_string={"credential": credential["id"]})
    assert models.status_code == 502
    assert ("may not be reached" in models.json["message"]
            and "PROVIDER_ALLOWED_HOSTS" in models.json["message"])
    assert internal.requests == []


def test_the_default_provider_is_the_operators_and_reaches_loopback(make_app_with, internal):
    client, auth = make_app_with(OPENAI_BASE_URL=internal.base_url, PROVIDER_ALLOWED_HOSTS="")
    models = client.get("/openai/get_models", headers=auth)
    assert models.status_code == 200 and models.json == {"models": ["internal-secret"]}
    assert len(internal.requests) == 1


def test_allowlist_entries_open_exactly_what_they_name(make_app_with, internal):
    for entry, allowed in ((f"127.0.0.1:{internal.port}", True), (f"127.0.0.1:{internal.port + 1}", False),
                           ("127.0.0.0/8", True), ("10.0.0.0/8", False),
                           (f"localhost:{internal.port}", False), ("127.0.0.1", True)):
        client, auth = make_app_with(PROVIDER_ALLOWED_HOSTS=entry)
        created = create_credential(client, auth, internal.base_url)
        assert (created.status_code == 201) is allowed, (entry, created.json)
    named = make_app_with(PROVIDER_ALLOWED_HOSTS=f"localhost:{internal.port}")
    assert create_credential(*named, f"http://localhost:{internal.port}/v1").status_code == 201


def test_address_policy_spellings_and_ranges():
    assert (str(parse_ip("2130706433")) == str(parse_ip("0177.0.0.1")) == str(parse_ip("0x7f.1"))
            == "127.0.0.1")
    assert parse_ip("example.com") is None and parse_ip("1e3.example.com") is None
    assert not any(is_public(parse_ip(a)) for a in ("::ffff:10.0.0.1", "2002:a00:1::", "0.0.0.0", "224.0.0.1",
                                                    "169.254.169.254", "100.64.0.1", "fc00::1", "::1", "::",
                                                    "64:ff9b::a00:1", "64:ff9b:1::808:808", "::ffff:0:a00:1",
                                                    "::a00:1", "64:ff9b::e000:1", "2001:db8::5efe:808:808"))
    assert all(is_public(parse_ip(a)) for a in ("8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8",
                                                "64:ff9b::808:808", "::ffff:0:808:808", "::808:808"))
    policy = AddressPolicy.parse(" ollama.internal:11434 , 10.0.0.0/8,[::1]:8000 ")
    assert policy.allows("Ollama.Internal.", 11434, parse_ip("10.9.9.9"))
    assert not policy.allows("ollama.internal", 80, parse_ip("192.168.0.1"))
    assert policy.allows("x", 1, parse_ip("10.1.1.1")) and policy.allows("[::1]", 8000, parse_ip("::1"))
    for bad in ("10.0.0.0/33", "host:99999", "host:x"):
        with pytest.raises(RuntimeError, match="PROVIDER_ALLOWED_HOSTS"):
            AddressPolicy.parse(bad)


def test_redirects_are_not_followed(app_config, make_app_with, thief):
    with Listener("redirect", redirect_to=thief.base_url) as redirector:
        client, auth = make_app_with(
            PROVIDER_ALLOWED_HOSTS=f"127.0.0.1:{redirector.port},127.0.0.1:{thief.port}")
        credential = create_credential(client, auth, redirector.base_url, organization="org-secret").json
        models = client.get("/openai/get_models", headers=auth, query_string={"credential": credential["id"]})
        assert models.status_code == 502
        assert models.json["message"] == (f"the provider at {redirector.base_url} answered with a "
                                          "redirect (HTTP 302) for the model list; redirects are not "
                                          "followed: set the final URL as base_url")
        assert len(redirector.requests) == 1 and thief.requests == []


MARKER = "PLANTED-7f3a"
HOSTILE_REPLIES = [  # (status, content type, body): what a provider (or what sits in front of it) may send
    (500, "application/json", {"error": {"message": f"{MARKER} db password is hunter2", "type": f"{MARKER}-t",
                                         "code": f"{MARKER}-c", "param": MARKER}}),
    (400, "application/json", {"error": {"message": f"{MARKER} {REAL_KEY}",
                                         "code": "context_length_exceeded"}}),
    (502, "text/html", f"<html><body><h1>502 Bad Gateway</h1>{MARKER}</body></html>"),
    (401, "application/json", {"error": {"message": f"Incorrect API key provided: {REAL_KEY} {MARKER}"}}),
    (200, "application/json", {"object": "list", "data": [{"id": f"<{MARKER}> internal"},
                                                          {"id": "x" * 300}, {"id": "gpt-4"}]}),
    (200, "text/plain", f"{MARKER} not json"),
    (429, "application/json", {"error": {"message": MARKER}}),
]


@pytest.mark.parametrize("status, content_type, body", HOSTILE_REPLIES)
def test_nothing_of_a_providers_reply_but_the_answer_reaches_a_client(make_app_with, status, content_type,
                                                                      body):
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    with Listener("hostile", status=status, content_type=content_type, body=raw) as hostile:
        client, auth = make_app_with(PROVIDER_ALLOWED_HOSTS=f"127.0.0.1:{hostile.port}", OPENAI_MAX_RETRIES=0)
        credential = create_credential(client, auth, hostile.base_url).json
        assistant = make_assistant(client, auth, credential["id"])
        turn = {"agent_id": assistant["id"], "thread_id": make_thread(client, auth, assistant["id"]),
                "user_input": "hi"}
        completion = {"messages": [{"role": "user", "content": "hi"}]}
        responses = [
            client.get("/openai/get_models", headers=auth, query_string={"credential": credential["id"]}),
            client.get(f"{AGENTS}/{assistant['id']}", headers=auth),
            client.get(AGENTS, headers=auth),
            client.post("/openai/chat", headers=auth, json=turn),
            client.post("/openai/chat", headers=auth, json={**turn, "stream": True}),
            client.post(f"{AGENTS}/{assistant['id']}/chat/completions", headers=auth, json=completion),
            client.post(f"{AGENTS}/{assistant['id']}/chat/completions", headers=auth,
                        json={**completion, "stream": True}),
        ]
        assert hostile.requests, "the hostile provider was asked"
        for response in responses:
            seen = response.get_data(as_text=True) + json.dumps(dict(response.headers))
            assert MARKER not in seen and REAL_KEY not in seen and "hunter2" not in seen, seen
        if status == 200 and content_type == "application/json":
            assert responses[0].json == {"models": ["gpt-4"]}
