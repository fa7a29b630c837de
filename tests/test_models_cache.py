"""The provider's model list is cached per credential; with REDIS_URL, across processes."""
import os
import uuid

import pytest

from assistants_app import create_app

from .conftest import make_key
from .fake_openai import Fault

REDIS_URL = "redis://127.0.0.1:6379/15"


def redis_available() -> bool:
    import redis

    try:
        return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return False


@pytest.fixture
def redis_url():
    if not redis_available():
        if os.environ.get("CI"):
            pytest.fail("Redis is not answering on 127.0.0.1:6379, and CI must test the shared cache")
        pytest.skip("no Redis on 127.0.0.1:6379")
    return REDIS_URL


def test_two_workers_share_the_models_cache_through_redis(app, app_config, fake, redis_url):
    # A fresh default-connection key per run, so earlier runs' cache entries do not count.
    config = dict(app_config, REDIS_URL=redis_url, OPENAI_API_KEY=f"sk-{uuid.uuid4().hex}")
    workers = [create_app(config), create_app(config)]  # two processes' worth of app state
    workers[0].extensions["provider_answers"].store._redis.flushdb()
    for worker in workers:
        headers = {"Authorization": f"Bearer {make_key(worker)}"}
        response = worker.test_client().get("/openai/get_models", headers=headers)
        assert response.status_code == 200 and response.json == {"models": sorted(fake.models)}
    assert len(fake.requests_to("/models")) == 1


def test_a_failing_provider_is_asked_once_per_period(client, auth, fake):
    fake.add_fault(Fault(kind="status", status=500, path="/models", times=100))
    statuses = [client.get("/openai/get_models", headers=auth).status_code for _ in range(5)]
    assert statuses == [502] * 5
    # One lookup, retried once (OPENAI_MAX_RETRIES=1): then the cached failure answers.
    assert len(fake.requests_to("/models")) == 2


def test_redis_down_falls_back_to_asking_the_provider(app, app_config, fake):
    app = create_app(dict(app_config, REDIS_URL="redis://127.0.0.1:1/0"))
    headers = {"Authorization": f"Bearer {make_key(app)}"}
    response = app.test_client().get("/openai/get_models", headers=headers)
    assert response.status_code == 200
