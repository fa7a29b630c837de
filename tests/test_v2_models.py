"""GET /v1/models and /v1/models/{id} through the official openai client: the default provider's
models, then those of the tenant's credentials, each through the models cache; a failing provider
left out, all of them failing a 502 in OpenAI's shape."""
import openai
import pytest

from .fake_openai import FakeOpenAI, Fault
from .helpers import make_credential, make_key, sdk


@pytest.fixture
def other_provider():
    """A second provider, with a model of its own and one the default provider offers too."""
    with FakeOpenAI(models=("llama3:8b", "gpt-4", "meta-llama/Llama-3.1-8B")) as server:
        yield server


def model(model_id, owner):
    return {"id": model_id, "object": "model", "created": 0, "owned_by": owner}


def listed(client):
    return [m.to_dict() for m in client.models.list()]


def test_the_default_providers_models(app):
    client = sdk(app, make_key(app))
    assert listed(client) == [model(m, "default") for m in ("gpt-4", "gpt-4o", "gpt-4o-mini")]
    assert client.models.retrieve("gpt-4o").to_dict() == model("gpt-4o", "default")
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("gpt-5")
    assert caught.value.body == {
        "message": "The model 'gpt-5' does not exist or you do not have access to it.",
        "type": "invalid_request_error", "param": None, "code": "model_not_found"}


def test_the_tenants_credentials_add_theirs_and_no_one_elses(app, client, fake, other_provider):
    key = make_key(app)
    credential = make_credential(client, {"Authorization": f"Bearer {key}"}, base_url=other_provider.base_url)
    mine = f"credential:{credential['id']}"
    assert listed(sdk(app, key)) == [
        model("gpt-4", "default"), model("gpt-4o", "default"), model("gpt-4o-mini", "default"),
        model("llama3:8b", mine), model("meta-llama/Llama-3.1-8B", mine)]
    assert sdk(app, key).models.retrieve("meta-llama/Llama-3.1-8B").owned_by == mine  # a slash in the id
    other_tenant = sdk(app, make_key(app, tenant="other", name="other"))
    assert [m["id"] for m in listed(other_tenant)] == ["gpt-4", "gpt-4o", "gpt-4o-mini"]
    with pytest.raises(openai.NotFoundError):
        other_tenant.models.retrieve("llama3:8b")


def test_each_provider_is_asked_once_per_cache_period(app, client, fake, other_provider):
    key = make_key(app)
    make_credential(client, {"Authorization": f"Bearer {key}"}, base_url=other_provider.base_url)
    for _ in range(3):
        assert len(listed(sdk(app, key))) == 5
    sdk(app, key).models.retrieve("llama3:8b")
    asked = [r for r in fake.requests + other_provider.requests if r.path.endswith("/models")]
    assert len(asked) == 2


def test_a_failing_provider_is_left_out_while_others_answer(app, client, fake, other_provider):
    key = make_key(app)
    auth = {"Authorization": f"Bearer {key}"}
    dead = make_credential(client, auth, base_url="http://127.0.0.1:9/v1")  # nothing listens there
    alive = make_credential(client, auth, base_url=other_provider.base_url)
    fake.add_fault(Fault("status", status=500, path="/models", times=10))  # the default provider fails too
    assert listed(sdk(app, key)) == [model(m, f"credential:{alive['id']}")
                                     for m in ("gpt-4", "llama3:8b", "meta-llama/Llama-3.1-8B")]
    assert dead["id"] not in str(listed(sdk(app, key)))


def test_every_provider_failing_is_a_502_in_openais_shape(app, client, fake):
    key = make_key(app)
    make_credential(client, {"Authorization": f"Bearer {key}"}, base_url="http://127.0.0.1:9/v1")
    fake.add_fault(Fault("status", status=500, path="/models", times=10))
    with pytest.raises(openai.InternalServerError) as caught:
        sdk(app, key).models.list()
    assert caught.value.status_code == 502
    assert set(caught.value.body) == {"message", "type", "param", "code"}
    assert caught.value.body["type"] == "server_error" and "sk-" not in caught.value.body["message"]
    with pytest.raises(openai.InternalServerError):
        sdk(app, key).models.retrieve("gpt-4")


def test_no_provider_at_all_is_an_empty_list(make_app):
    app = make_app(OPENAI_API_KEY=None, OPENAI_BASE_URL=None)
    assert listed(sdk(app, make_key(app))) == []
    with pytest.raises(openai.NotFoundError):
        sdk(app, make_key(app)).models.retrieve("gpt-4")
