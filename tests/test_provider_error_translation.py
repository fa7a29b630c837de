"""How a provider's failure reaches a client (openai_adapter/errors.py): Retry-After in milliseconds
passed on in seconds, one that is no finite time ignored, a TLS handshake that fails named as such, and
the transport's own words (with LOG_CONTENT) in the log only."""
import logging

import pytest

from assistants_app.openai_adapter import ProviderError

from .fake_openai import Fault
from .helpers import chat, create_agent, make_credential, user


@pytest.fixture
def logged(make_app_with):
    return make_app_with(LOG_CONTENT=True, OPENAI_MAX_RETRIES=0)


@pytest.mark.parametrize("headers, hint", [
    ({"retry-after-ms": "1500"}, "; retry after 1.5 s"),
    ({"Retry-After": "inf"}, None),  # a number, but no time to wait: ignored
])
def test_a_429s_wait_is_read_from_the_providers_headers(logged, fake, headers, hint):
    client, auth = logged
    agent = create_agent(client, auth)
    fake.add_fault(Fault("status", status=429, headers=headers, path="/chat/completions"))
    answer = chat(client, auth, agent["id"], [user("hi")])
    assert answer.status_code == 429, answer.json
    assert "is rate limiting this credential (HTTP 429" in answer.json["detail"]
    if hint:
        assert answer.json["detail"].endswith(hint)
    else:
        assert "retry after" not in answer.json["detail"]


def test_a_provider_that_does_not_speak_tls_is_a_502_naming_the_handshake(logged, fake):
    client, auth = logged
    https = fake.base_url.replace("http://", "https://")  # the fake answers plain HTTP only
    credential = make_credential(client, auth, base_url=https)
    agent = create_agent(client, auth, credential=credential["id"])
    answer = chat(client, auth, agent["id"], [user("hi")])
    assert answer.status_code == 502, answer.json
    assert answer.json["detail"].startswith(f"could not reach the provider at {https}: "
                                            "the TLS handshake failed")


def test_a_refused_connection_logs_the_transports_words_and_tells_the_client_only_ours(logged, fake, caplog):
    client, auth = logged
    credential = make_credential(client, auth, base_url=fake.refused_base_url(), api_key="sk-refused-9876")
    agent = create_agent(client, auth, credential=credential["id"])
    with caplog.at_level(logging.WARNING):
        answer = chat(client, auth, agent["id"], [user("hi")])
    assert answer.status_code == 502, answer.json
    assert answer.json["detail"].endswith("the connection was refused")
    logged_fields = [r.fields for r in caplog.records if r.getMessage() == "provider call failed"]
    detail = logged_fields[-1]["detail"]
    assert detail.startswith("APIConnectionError: ") and " <- " in detail  # the exception and its cause
    assert "sk-refused-9876" not in detail and "Errno" not in answer.json["detail"]


def test_a_provider_error_of_no_known_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown provider failure kind 'lost'"):
        ProviderError("lost", "gone")
    assert repr(ProviderError("timeout", "late", provider_status=504)) == (
        "ProviderError('timeout', 'late', provider_status=504)")
