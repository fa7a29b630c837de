"""Seed 003 (the agents API) through HTTP: CRUD under /agents and /assistants, the seed's
field list, metadata, pagination and the {"detail": ...} error shapes."""
import json
import random
import time
import uuid

import pytest

from .helpers import (AGENTS, ASSISTANTS, BASES, NOT_FOUND, assert_validation_error, auth_for, create_agent,
                      make_assistant, make_credential)

# The seed's agent object, field by field, with the JSON type of each.
SEED_FIELDS = {
    "name": str, "description": str, "instructions": str, "session_max_ttl": int, "completion_role": str,
    "tools": list, "index_id": str, "index_top_n": int, "index_similarity_cutoff": (int, float),
    "index_reference_format": str, "index_reference_delimiter": str, "session_max_length": int,
    "session_summarization_strategy": str, "metadata": dict, "id": str, "object": str, "created_at": int,
    "model": str, "status": str, "status_errors": list, "chat_system_instruction_mode": str,
}

FULL_BODY = {
    "name": "Helper", "description": "Answers questions", "instructions": "Be brief.",
    "session_max_ttl": 3600, "completion_role": "assistant",
    "tools": [{"link_type": "knowledge_base", "tool_id": "kb-1"}],
    "index_id": "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "index_top_n": 5, "index_similarity_cutoff": 0.25,
    "index_reference_format": "markdown", "index_reference_delimiter": "\n---\n",
    "session_max_length": 20000, "session_summarization_strategy": "summarize",
    "metadata": {"team": "support", "tier": "gold"}, "model": "gpt-4",
    "chat_system_instruction_mode": "user-message",
}


@pytest.mark.parametrize("base", BASES)
def test_seed_field_list_by_name_and_type(client, auth, base):
    created = create_agent(client, auth, base, **FULL_BODY)
    fetched = client.get(f"{base}/{created['id']}", headers=auth)
    assert fetched.status_code == 200
    agent = fetched.json
    for name, kind in SEED_FIELDS.items():
        assert name in agent, name
        assert isinstance(agent[name], kind), (name, agent[name])
    assert set(agent) - set(SEED_FIELDS) == {"credential"}  # this service's one extension
    assert agent["object"] == "agent"
    assert abs(agent["created_at"] - time.time()) < 60
    assert agent["status"] == "AVAILABLE" and agent["status_errors"] == []
    assert all(set(tool) == {"link_type", "tool_id"} for tool in agent["tools"])
    assert all(isinstance(v, str) for v in agent["metadata"].values())
    for name, value in FULL_BODY.items():
        assert agent[name] == value, name
    assert agent == dict(created, status=agent["status"], status_errors=agent["status_errors"])


def test_both_names_serve_the_same_agents(client, auth):
    created = create_agent(client, auth, AGENTS, name="shared")
    assert client.get(f"{ASSISTANTS}/{created['id']}", headers=auth).json == created
    updated = client.post(f"{ASSISTANTS}/{created['id']}", json={"name": "renamed"}, headers=auth)
    assert updated.status_code == 200 and updated.json["name"] == "renamed"
    assert [a["id"] for a in client.get(AGENTS, headers=auth).json["data"]] == [created["id"]]
    assert [a["id"] for a in client.get(ASSISTANTS, headers=auth).json["data"]] == [created["id"]]
    deleted = client.delete(f"{ASSISTANTS}/{created['id']}", headers=auth)
    assert deleted.status_code == 200
    assert deleted.json == {"id": created["id"], "object": "agent.deleted", "deleted": True}
    assert client.get(f"{AGENTS}/{created['id']}", headers=auth).json == NOT_FOUND


def test_defaults_of_a_minimal_agent(client, auth):
    agent = create_agent(client, auth)
    assert agent["model"] == "gpt-4" and agent["name"] is None and agent["instructions"] is None
    assert agent["tools"] == [] and agent["metadata"] == {}
    assert agent["session_summarization_strategy"] == "delete_oldest"
    assert agent["chat_system_instruction_mode"] == "system-message"
    assert agent["completion_role"] == "assistant"
    assert agent["session_max_ttl"] is None and agent["session_max_length"] is None
    assert agent["credential"] is None


def test_one_row_behind_seed_000_and_seed_003(client, auth):
    agent = create_agent(client, auth, name="n", description="d", instructions="i")
    seed_000 = client.get(f"/assistants/{agent['id']}", headers=auth).json
    assert {k: seed_000["details"][k] for k in ("name", "description", "instructions", "model")} == {
        "name": "n", "description": "d", "instructions": "i", "model": "gpt-4"}
    made_by_000 = make_assistant(client, auth, model="gpt-4o", name="old", temperature=0.5)
    as_agent = client.get(f"{AGENTS}/{made_by_000['id']}", headers=auth).json
    assert (as_agent["name"], as_agent["model"], as_agent["object"]) == ("old", "gpt-4o", "agent")
    client.post(f"{AGENTS}/{made_by_000['id']}", json={"description": "new"}, headers=auth)
    details = client.get(f"/assistants/{made_by_000['id']}", headers=auth).json["details"]
    assert details["temperature"] == 0.5 and details["description"] == "new"  # seed 000's fields survive
    # The seed-000 details.id (asst_...) finds the agent too.
    assert (client.get(f"{AGENTS}/{made_by_000['details']['id']}", headers=auth).json["id"]
            == made_by_000["id"])


def test_update_keeps_absent_fields_and_merges_metadata(client, auth):
    agent = create_agent(client, auth, **FULL_BODY)
    response = client.post(f"{AGENTS}/{agent['id']}", headers=auth, json={
        "description": None, "metadata": {"team": None, "region": "eu"}, "session_max_ttl": 60})
    assert response.status_code == 200, response.json
    updated = response.json
    assert updated["metadata"] == {"tier": "gold", "region": "eu"}
    assert updated["description"] is None and updated["session_max_ttl"] == 60
    unchanged = {k: v for k, v in FULL_BODY.items()
                 if k not in ("description", "metadata", "session_max_ttl")}
    assert {k: updated[k] for k in unchanged} == unchanged
    assert client.post(f"{AGENTS}/{agent['id']}", json={}, headers=auth).json == updated
    # Removing a key that is not there is not an error.
    assert client.post(f"{AGENTS}/{agent['id']}", json={"metadata": {"nope": None}},
                       headers=auth).status_code == 200


def test_metadata_limits(client, auth):
    sixteen = {f"k{i}": "v" for i in range(16)}
    agent = create_agent(client, auth, metadata=sixteen)
    assert len(agent["metadata"]) == 16
    assert_validation_error(client.post(AGENTS, headers=auth, json={
        "model": "gpt-4", "metadata": {**sixteen, "k16": "v"}}), ("body", "metadata"))
    detail = assert_validation_error(client.post(AGENTS, headers=auth, json={
        "model": "gpt-4", "metadata": {"k" * 65: "v"}}))
    assert detail[0]["loc"][:2] == ["body", "metadata"]
    detail = assert_validation_error(client.post(AGENTS, headers=auth, json={
        "model": "gpt-4", "metadata": {"k": "v" * 513}}))
    assert detail[0]["loc"][:2] == ["body", "metadata"]
    assert_validation_error(client.post(AGENTS, headers=auth,
                                        json={"model": "gpt-4", "metadata": {"k": None}}))
    assert_validation_error(client.post(AGENTS, headers=auth, json={"model": "gpt-4", "metadata": {"k": 1}}))
    # An update whose merge would pass 16 pairs is refused and changes nothing...
    over = client.post(f"{AGENTS}/{agent['id']}", json={"metadata": {"extra": "v"}}, headers=auth)
    assert_validation_error(over, ("body", "metadata"))
    assert client.get(f"{AGENTS}/{agent['id']}", headers=auth).json["metadata"] == sixteen
    # ...but one that removes a key in the same breath fits.
    swapped = client.post(f"{AGENTS}/{agent['id']}", json={"metadata": {"k0": None, "extra": "v"}},
                          headers=auth)
    assert (swapped.status_code == 200 and len(swapped.json["metadata"]) == 16
            and "extra" in swapped.json["metadata"])
    assert client.post(f"{AGENTS}/{agent['id']}", json={"metadata": {"k" * 64: "v" * 512, "k1": None}},
                       headers=auth).status_code == 200


@pytest.mark.parametrize("field, value", [
    ("name", "n" * 257), ("description", "d" * 513), ("instructions", "i" * 256_001),
])
def test_length_limits(client, auth, field, value):
    assert_validation_error(client.post(AGENTS, json={"model": "gpt-4", field: value}, headers=auth),
                            ("body", field))
    at_limit = create_agent(client, auth, **{field: value[:-1]})
    assert at_limit[field] == value[:-1]
    assert_validation_error(client.post(f"{AGENTS}/{at_limit['id']}", json={field: value}, headers=auth),
                            ("body", field))


@pytest.mark.parametrize("body, loc", [
    ({}, ("body", "model")),
    ({"model": ""}, ("body", "model")),
    ({"model": None}, ("body", "model")),
    ({"model": "gpt-4", "surprise": 1}, ("body", "surprise")),
    ({"model": "gpt-4", "session_summarization_strategy": "shrink"},
     ("body", "session_summarization_strategy")),
    ({"model": "gpt-4", "chat_system_instruction_mode": "shout"}, ("body", "chat_system_instruction_mode")),
    ({"model": "gpt-4", "session_max_ttl": 0}, ("body", "session_max_ttl")),
    ({"model": "gpt-4", "session_max_ttl": 1.5}, ("body", "session_max_ttl")),
    ({"model": "gpt-4", "session_max_length": 2 ** 40}, ("body", "session_max_length")),
    ({"model": "gpt-4", "index_id": "not-a-uuid"}, ("body", "index_id")),
    ({"model": "gpt-4", "index_top_n": -1}, ("body", "index_top_n")),
    ({"model": "gpt-4", "index_similarity_cutoff": 2}, ("body", "index_similarity_cutoff")),
    ({"model": "gpt-4", "completion_role": "r" * 65}, ("body", "completion_role")),
    ({"model": "gpt-4", "tools": [{"link_type": "x"}]}, ("body", "tools", 0, "tool_id")),
    ({"model": "gpt-4", "tools": "kb"}, ("body", "tools")),
    ({"model": "gpt-4", "name": "a\x00b"}, ("body",)),
])
def test_invalid_bodies_are_422_in_the_seed_shape(client, auth, body, loc):
    detail = assert_validation_error(client.post(AGENTS, json=body, headers=auth), loc)
    types = {item["type"] for item in detail}
    if body == {}:
        assert types == {"missing"}
    if "surprise" in body:
        assert types == {"extra_forbidden"}
    assert client.get(AGENTS, headers=auth).json["data"] == []


@pytest.mark.parametrize("data", ["{not json", "[]", "42", "null"])
def test_non_object_or_malformed_json_is_422(client, auth, data):
    response = client.post(AGENTS, data=data, content_type="application/json", headers=auth)
    assert_validation_error(response, ("body",))


def test_unknown_credential_is_422_and_a_real_one_is_kept(client, auth, fake):
    assert_validation_error(client.post(AGENTS, json={"model": "gpt-4", "credential": "nope"}, headers=auth),
                            ("body", "credential"))
    credential = make_credential(client, auth, base_url=fake.base_url, api="chat_completions")
    agent = create_agent(client, auth, credential=credential["id"])
    assert agent["credential"] == credential["id"] and agent["status"] == "AVAILABLE"
    moved = client.post(f"{AGENTS}/{agent['id']}", json={"credential": None}, headers=auth).json
    assert moved["credential"] is None


@pytest.mark.parametrize("base", BASES)
def test_unknown_agent_is_404_in_the_seed_shape(client, auth, other_auth, base):
    mine = create_agent(client, auth)
    for agent_id in (str(uuid.uuid4()), "x" * 300, "abc%00def", mine["id"]):
        headers = other_auth if agent_id == mine["id"] else auth
        for method, path, body in (("get", "", None), ("post", "", {"name": "x"}), ("delete", "", None),
                                   ("post", "/chat/completions",
                                    {"messages": [{"role": "user", "content": "hi"}]})):
            response = getattr(client, method)(f"{base}/{agent_id}{path}", json=body, headers=headers)
            assert response.status_code == 404, (method, path, response.json)
            assert response.json == NOT_FOUND


def test_list_query_validation(client, auth):
    for query, loc in (("limit=0", "limit"), ("limit=1000", "limit"), ("limit=x", "limit"),
                       ("order=sideways", "order"), ("set_num_objects=maybe", "set_num_objects"),
                       ("after=" + str(uuid.uuid4()), "after")):
        assert_validation_error(client.get(f"{AGENTS}?{query}", headers=auth), ("query", loc))
    # Like the seed's FastAPI, unknown query parameters are ignored.
    assert client.get(f"{AGENTS}?colour=red", headers=auth).status_code == 200
    assert client.get(f"{AGENTS}?limit=999", headers=auth).status_code == 200
    assert client.get(f"{AGENTS}?limit=1", headers=auth).status_code == 200


def test_list_shape_and_pagination_cursors_both_ways(client, auth):
    ids = [create_agent(client, auth, name="even" if i % 2 == 0 else "odd")["id"] for i in range(5)]

    def page(query):
        response = client.get(f"{AGENTS}?{query}", headers=auth)
        assert response.status_code == 200, response.json
        body = response.json
        assert body["object"] == "list"
        got = [agent["id"] for agent in body["data"]]
        assert (body["first_id"], body["last_id"]) == ((got[0], got[-1]) if got else (None, None))
        return got, body["has_more"], body["num_objects"]

    everything = client.get(AGENTS, headers=auth).json
    assert [a["id"] for a in everything["data"]] == ids and everything["has_more"] is False
    assert everything["num_objects"] is None
    assert all(a["object"] == "agent" and a["status"] == "AVAILABLE" for a in everything["data"])
    # Forward, ascending.
    assert page("limit=2") == (ids[0:2], True, None)
    assert page(f"limit=2&after={ids[1]}") == (ids[2:4], True, None)
    assert page(f"limit=2&after={ids[3]}") == (ids[4:], False, None)
    # Backward from a cursor, ascending: the page just before it.
    assert page(f"limit=2&before={ids[4]}") == (ids[2:4], True, None)
    assert page(f"limit=2&before={ids[2]}") == (ids[0:2], False, None)
    # Descending, both ways.
    assert page("limit=2&order=desc") == ([ids[4], ids[3]], True, None)
    assert page(f"limit=2&order=desc&after={ids[3]}") == ([ids[2], ids[1]], True, None)
    assert page(f"limit=2&order=desc&before={ids[0]}") == ([ids[2], ids[1]], True, None)
    assert page(f"limit=2&order=desc&before={ids[2]}") == ([ids[4], ids[3]], False, None)
    # Both cursors: the agents strictly between.
    assert page(f"after={ids[0]}&before={ids[4]}") == (ids[1:4], False, None)
    # Counting and filtering by name.
    assert page("limit=1&set_num_objects=true") == (ids[:1], True, 5)
    assert page("name=odd&set_num_objects=true") == ([ids[1], ids[3]], False, 2)
    assert page("name=nobody") == ([], False, None)


def test_other_tenants_agents_are_invisible(client, auth, other_auth):
    mine = create_agent(client, auth)
    assert client.get(AGENTS, headers=other_auth).json["data"] == []
    assert_validation_error(client.get(f"{AGENTS}?after={mine['id']}", headers=other_auth),
                            ("query", "after"))


def test_auth_is_required(client):
    response = client.get(AGENTS)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")


def test_openapi_lists_both_names(client):
    paths = client.get("/openapi.json").json["paths"]
    for base in BASES:
        assert set(paths[base]) >= {"get", "post"}
        assert set(paths[base + "/{agent_id}"]) >= {"get", "post", "delete"}
        assert "post" in paths[base + "/{agent_id}/chat/completions"]
        get_one = paths[base + "/{agent_id}"]["get"]["responses"]
        assert {"200", "404", "422"} <= set(get_one)


@pytest.mark.parametrize("depth", [995, 100_000])
def test_deeply_nested_json_is_422(client, auth, depth):
    agent = create_agent(client, auth)
    for path in (AGENTS, f"{AGENTS}/{agent['id']}", f"{AGENTS}/{agent['id']}/chat/completions"):
        response = client.post(path, data="[" * depth + "]" * depth, content_type="application/json",
                               headers=auth)
        assert_validation_error(response, ("body",))


FUZZ_VALUES = [None, True, 0, -1, 1.5, 2 ** 70, "", "x", "a\x00b", "é" * 300, [], {}, [1], {"k": None},
               [{"role": "user"}], [{"link_type": "a", "tool_id": "b"}], "thread_x", 1e308]
FUZZ_FIELDS = ["name", "description", "instructions", "model", "session_max_ttl", "completion_role", "tools",
               "index_id", "index_top_n", "index_similarity_cutoff", "index_reference_format",
               "index_reference_delimiter", "session_max_length", "session_summarization_strategy",
               "metadata", "chat_system_instruction_mode", "credential", "stream", "create_session",
               "store_in_session", "temperature", "top_p", "max_tokens", "stop", "seed", "n",
               "stream_options"]


def test_random_inputs_never_answer_500(make_app, fake):
    unlimited = make_app(RATELIMIT_ENABLED=False)
    client, headers = unlimited.test_client(), auth_for(unlimited)
    agent = create_agent(client, headers, session_max_length=50, session_summarization_strategy="summarize")
    session_id = client.post(f"{AGENTS}/{agent['id']}/chat/completions", headers=headers, json={
        "messages": [{"role": "user", "content": "hi"}], "create_session": True}).json["session_id"]
    rnd = random.Random(4)
    success = {AGENTS: 201, f"{AGENTS}/{agent['id']}": 200, f"{AGENTS}/{agent['id']}/chat/completions": 200}
    for _ in range(400):
        body = {name: rnd.choice(FUZZ_VALUES) for name in rnd.sample(FUZZ_FIELDS, rnd.randint(0, 5))}
        if rnd.random() < 0.6:
            body["messages"] = [{"role": rnd.choice(["user", "assistant", "tool", "system", "x"]),
                                 "content": rnd.choice(FUZZ_VALUES + ["hello"] * 6)}
                                for _ in range(rnd.randint(0, 3))]
        if rnd.random() < 0.3:
            body["store_in_session"] = session_id
        path = rnd.choice(list(success))
        response = client.post(path, data=json.dumps(body), content_type="application/json", headers=headers)
        # Valid or not, never anything else (the fake serves every model a valid body can name).
        assert response.status_code in (success[path], 422), (path, body, response.json)
        if response.status_code >= 400:
            assert set(response.json) == {"detail"}
        query = "&".join(
            f"{name}={rnd.choice(['', 'x', '0', '-1', '1000', 'asc', 'true', '%00', agent['id']])}"
            for name in rnd.sample(["after", "before", "limit", "order", "set_num_objects", "name"], 3))
        assert client.get(f"{AGENTS}?{query}", headers=headers).status_code in (200, 422), query
