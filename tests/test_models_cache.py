"""The provider's model list is cached per credential; with REDIS_URL, across processes."""
import threading

import pytest

from assistants_app import answer_cache

from .fake_openai import Fault
from .helpers import REDIS_URL, auth_for, make_credential, redis_or_skip


@pytest.fixture
def redis_url():
    redis_or_skip()
    return REDIS_URL


def test_two_workers_share_the_models_cache_through_redis(make_app, fake, redis_url):
    workers = [make_app(REDIS_URL=redis_url) for _ in range(2)]  # two processes' worth of app state
    headers = auth_for(workers[0])
    # A credential of this run: no other run's (or suite's) cache entry can answer for it.
    credential = make_credential(workers[0].test_client(), headers, base_url=fake.base_url)
    for worker in workers:
        response = worker.test_client().get(f"/openai/get_models?credential={credential['id']}",
                                            headers=headers)
        assert response.status_code == 200 and response.json == {"models": sorted(fake.models)}
    assert len(fake.requests_to("/models")) == 1


def test_a_failing_provider_is_asked_once_per_period(client, auth, fake):
    fake.add_fault(Fault(kind="status", status=500, path="/models", times=100))
    statuses = [client.get("/openai/get_models", headers=auth).status_code for _ in range(5)]
    assert statuses == [502] * 5
    # One lookup, retried once (OPENAI_MAX_RETRIES=1): then the cached failure answers.
    assert len(fake.requests_to("/models")) == 2


def test_redis_down_falls_back_to_asking_the_provider(make_app, fake):
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    client, headers = app.test_client(), auth_for(app)
    for _ in range(2):
        response = client.get("/openai/get_models", headers=headers)
        assert response.status_code == 200 and response.json == {"models": sorted(fake.models)}
    assert fake.requests_to("/models")


def test_requests_at_once_for_one_list_ask_the_provider_once(app, auth, fake):
    """While one request asks the provider for a credential's models, the others for the same list wait
    for its answer instead of asking too (answer_cache.KeyedLocks), and the lock is gone after."""
    fake.delay = 0.5
    answers = []

    def get_models():
        answers.append(app.test_client().get("/openai/get_models", headers=auth))
    threads = [threading.Thread(target=get_models) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [answer.status_code for answer in answers] == [200] * 5
    assert all(answer.json == {"models": sorted(fake.models)} for answer in answers)
    assert len(fake.requests_to("/models")) == 1
    assert len(app.extensions[answer_cache.EXTENSION].locks) == 0
