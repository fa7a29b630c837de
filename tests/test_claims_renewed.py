"""Background work keeps its claim alive: a run or background response renews its expires_at while it waits
for one of its tenant's slots and while its turn runs (else it would be taken for the work of a dead worker);
one whose claim did lapse (its worker died) is failed when it is next read. The renewal period (10 s), and
how often a running turn checks in (1 s), are shortened here: a turn of a fraction of a second spans
several."""
from datetime import timedelta

import pytest
from sqlalchemy import update

from assistants_app.extensions import db
from assistants_app.models import Run, utcnow
from assistants_app.responses_models import Response
from assistants_app.services import background, turns
from assistants_app.services.responses import run as responses_run
from assistants_app.services.v2 import runner

from .helpers import make_key, sdk, wait_for_runs

STALE_AFTER = timedelta(seconds=35)  # OPENAI_TIMEOUT (5 s in the tests) + 30
LONG_REPLY = "one two three four five six seven eight"


@pytest.fixture
def renew_often(monkeypatch):
    for module in (background, runner, responses_run):
        monkeypatch.setattr(module, "RENEW_SECONDS", 0.0)
    monkeypatch.setattr(turns, "KEEP_GOING_SECONDS", 0.0)  # how often a turn asks keep_going()


@pytest.fixture
def one_slot(make_app, fake, renew_often):
    app = make_app(TENANT_MAX_ACTIVE_RUNS=1)
    client = sdk(app, make_key(app))
    fake.chunk_delay = 0.05  # each reply streams for ~0.4 s
    yield app, client
    wait_for_runs(app)


def claimed_until(app, model, row_id):
    with app.app_context():
        row = db.session.get(model, row_id)
        return row, row.expires_at - STALE_AFTER  # when the claim was last taken or renewed


def test_runs_renew_their_claim_while_they_wait_and_while_they_run(one_slot):
    app, client = one_slot
    assistant = client.beta.assistants.create(model="gpt-4")
    first = client.beta.threads.create_and_run(assistant_id=assistant.id, thread={
        "messages": [{"role": "user", "content": LONG_REPLY}]})
    second = client.beta.threads.create_and_run(assistant_id=assistant.id, thread={
        "messages": [{"role": "user", "content": LONG_REPLY}]})
    wait_for_runs(app)
    for made in (first, second):
        run, renewed = claimed_until(app, Run, made.id)
        assert run.status == "completed"
        # renewed after it started, while its reply streamed (a claim taken once would equal started_at)
        assert renewed - run.started_at > timedelta(seconds=0.15)
    assert client.beta.threads.messages.list(thread_id=second.thread_id).data[0].content[0].text.value == (
        f"Echo: {LONG_REPLY}")


def test_background_responses_renew_their_claim_while_they_wait_and_while_they_run(one_slot):
    app, client = one_slot
    first = client.responses.create(model="gpt-4", input=LONG_REPLY, background=True)
    second = client.responses.create(model="gpt-4", input=LONG_REPLY, background=True)
    assert client.responses.retrieve(second.id).status == "queued"  # behind the first, in the only slot
    wait_for_runs(app)
    for made in (first, second):
        response, renewed = claimed_until(app, Response, made.id)
        assert response.status == "completed"
        assert response.output[0]["content"][0]["text"] == f"Echo: {LONG_REPLY}"
        assert renewed - response.created_at > timedelta(seconds=0.15)
    _, first_renewed = claimed_until(app, Response, first.id)
    _, second_renewed = claimed_until(app, Response, second.id)
    assert second_renewed > first_renewed  # the second ran after the first


def test_a_background_response_whose_worker_died_is_failed_when_read(app, auth, client, fake):
    created = client.post("/v1/responses", headers=auth,
                          json={"model": "gpt-4", "input": "hi", "background": True})
    assert created.status_code == 200, created.json
    wait_for_runs(app)
    with app.app_context():  # as a worker that died mid-turn leaves it: in progress, its claim lapsed
        db.session.execute(update(Response).where(Response.id == created.json["id"]).values(
            status="in_progress", expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    read = client.get(f"/v1/responses/{created.json['id']}", headers=auth)
    assert read.status_code == 200 and read.json["status"] == "failed"
    assert read.json["error"] == {"code": "server_error",
                                  "message": "The worker running this response stopped before it finished."}
    cancelled = client.post(f"/v1/responses/{created.json['id']}/cancel", headers=auth)
    assert cancelled.status_code == 200 and cancelled.json["status"] == "failed"  # ended: answered as it is
