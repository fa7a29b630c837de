"""A credential's base_url, checked when it is saved (openai_adapter/addresses.py): what is not an http(s)
URL, a port out of range, a Teredo address standing for a non-public IPv4 one, each refused with a 422
naming the problem; a name that does not resolve now is saved, and a turn through it is a 502 saying so."""
import pytest

from .helpers import create_agent, make_credential


def save(client, auth, base_url):
    return client.post("/credentials", headers=auth, json={
        "name": "provider", "provider": "openai_compatible", "base_url": base_url, "api_key": "sk-addr-1234"})


@pytest.mark.parametrize("url, problem", [
    ("ftp://example.com/v1", "Not a valid URL."),
    ("http://example.com:99999/v1", "invalid port"),
    # Teredo (2001::/32): the client's address is the last 32 bits, inverted: 192.0.2.45, not public.
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/v1", "stands for 192.0.2.45"),
])
def test_a_base_url_that_may_not_be_reached_is_a_422_naming_why(client, auth, url, problem):
    saved = save(client, auth, url)
    assert saved.status_code == 422, saved.json
    assert problem in " ".join(saved.json["errors"]["json"]["base_url"])
    assert client.get("/credentials", headers=auth).json == []


@pytest.mark.parametrize("host, said", [
    ("provider.invalid", "could not reach the provider at http://provider.invalid/v1"),
    # Dotted numbers no resolver reads as an address: not a host a client can be made for either.
    ("1.2.3.256", "could not set up a client for the provider at http://1.2.3.256/v1: check its base_url"),
])
def test_a_host_that_does_not_resolve_is_saved_and_a_turn_through_it_says_so(client, auth, host, said):
    credential = make_credential(client, auth, base_url=f"http://{host}/v1")
    assert credential["base_url"] == f"http://{host}/v1"
    agent = create_agent(client, auth, credential=credential["id"])
    answer = client.post(f"/api/v1/compatibility/openai/v1/agents/{agent['id']}/chat/completions",
                         headers=auth, json={"messages": [{"role": "user", "content": "hi"}]})
    assert answer.status_code == 502, answer.json
    assert said in answer.json["detail"]
