"""Failed authentication is limited per client address (AUTH_FAILURE_LIMIT, default 20 per minute):
past it, 429 with Retry-After in each API's error shape; valid keys from that address keep working;
counted in Redis when REDIS_URL is set, in memory while Redis is down."""
import random

import pytest

from .helpers import AGENTS, REDIS_URL, auth_for, headers_for, redis_or_skip

WRONG = headers_for("sk-asst-not-a-key-of-this-service")
DEFAULT_LIMIT = 20


def from_address(address: str) -> dict:
    return {"environ_overrides": {"REMOTE_ADDR": address}}


def tries_until_429(client, address: str = "127.0.0.1", path: str = "/assistants", most: int = 300):
    """Wrong keys from `address` until one gets 429 (or `most` tries): (how many 401s before it, the 429)."""
    for tries in range(most):
        response = client.get(path, headers=WRONG, **from_address(address))
        if response.status_code != 401:
            assert response.status_code == 429, response.get_data(as_text=True)
            return tries, response
    raise AssertionError(f"no 429 in {most} tries")


def assert_retry_after(response) -> None:
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_wrong_keys_from_one_address_get_429_and_valid_keys_keep_working(client, auth):
    tries, refused = tries_until_429(client)
    assert tries == DEFAULT_LIMIT
    assert_retry_after(refused)
    assert refused.json == {"code": 429, "status": "Too Many Requests", "message": (
        f"Too many requests with a wrong API key from this address (20 per 1 minute). "
        f"Retry after {refused.headers['Retry-After']} s.")}
    # Each API answers in its own shape.
    agents = client.get(f"{AGENTS}/x", headers=WRONG)
    assert (agents.status_code == 429 and set(agents.json) == {"detail"}
            and "wrong API key" in agents.json["detail"])
    assert_retry_after(agents)
    conversations = client.post("/openai/initialize", json={"agent_id": "x"}, headers=WRONG)
    assert conversations.status_code == 429 and conversations.json["code"] == 429
    # A valid key from the same address is unaffected; a wrong one from another address still gets 401.
    assert client.get("/assistants", headers=auth).status_code == 200
    assert client.get("/assistants", headers=WRONG, **from_address("10.9.8.7")).status_code == 401
    # A request without a key is not a failed authentication: 401 (the address's rate limit applies).
    assert client.get("/assistants").status_code == 401


def test_the_limit_is_configurable(make_app_with):
    client, auth = make_app_with(AUTH_FAILURE_LIMIT="3 per minute")
    assert tries_until_429(client)[0] == 3
    assert client.get("/assistants", headers=auth).status_code == 200


@pytest.fixture
def redis_address():
    """An address of this test's own (other runs may share the Redis), its counts deleted after."""
    connection = redis_or_skip()
    address = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    try:
        yield address, connection
    finally:
        for name in connection.scan_iter(match=f"*auth-failures*{address}*"):
            connection.delete(name)


def test_failures_are_counted_in_redis_and_shared_by_workers(make_app, redis_address):
    address, connection = redis_address
    workers = [make_app(REDIS_URL=REDIS_URL).test_client(), make_app(REDIS_URL=REDIS_URL).test_client()]
    for index in range(DEFAULT_LIMIT):
        response = workers[index % 2].get("/assistants", headers=WRONG, **from_address(address))
        assert response.status_code == 401
    [name] = list(connection.scan_iter(match=f"*auth-failures*{address}*"))
    assert int(connection.get(name)) == DEFAULT_LIMIT
    # Both workers, and one started later (an empty memory), refuse the address now.
    later = make_app(REDIS_URL=REDIS_URL)
    for client in (*workers, later.test_client()):
        refused = client.get("/assistants", headers=WRONG, **from_address(address))
        assert refused.status_code == 429
        assert_retry_after(refused)
    valid = auth_for(later)
    assert later.test_client().get("/assistants", headers=valid, **from_address(address)).status_code == 200


def test_redis_down_counts_failures_in_memory(make_app):
    client = make_app(REDIS_URL="redis://127.0.0.1:1/0").test_client()
    assert tries_until_429(client)[0] == DEFAULT_LIMIT
