"""Hand-written request bodies for the reference's curl examples, keyed "METHOD /path".

An operation not listed here gets a body generated from its schema (its required fields).
tests/test_docs.py validates every body here against the app's own OpenAPI schema, so an
example that the API would refuse fails the tests."""

ASSISTANT = {
    "details": {
        "name": "Support bot",
        "model": "gpt-4.1-mini",
        "instructions": "You answer questions about our product, briefly.",
        "temperature": 0.3,
        "tools": [],
    },
    "credential": None,
    "type": "OPENAI",
}

AGENT = {
    "name": "Support bot",
    "model": "gpt-4.1-mini",
    "instructions": "You answer questions about our product, briefly.",
    "session_max_ttl": 3600,
    "session_max_length": 20000,
    "session_summarization_strategy": "delete_oldest",
    "chat_system_instruction_mode": "system-message",
    "metadata": {"team": "support"},
}

REQUEST_EXAMPLES = {
    "POST /credentials": {
        "name": "local vLLM",
        "provider": "openai_compatible",
        "base_url": "http://127.0.0.1:8001/v1",
        "api": "chat_completions",
        "api_key": "EMPTY",
    },
    "PUT /credentials/{credential_id}": {"api_key": "sk-new-provider-key"},
    "POST /assistants": ASSISTANT,
    "PUT /assistants/{assistant_id}": {"details": dict(ASSISTANT["details"], temperature=0.7)},
    "POST /openai/initialize": {"agent_id": "AGENT_ID"},
    "POST /openai/chat": {"agent_id": "AGENT_ID", "thread_id": "THREAD_ID", "user_input": "Hello!"},
    "POST /openai/delete_agent": {"agent_id": "AGENT_ID"},
    # Seed 003: both /agents and /assistants spellings of every route.
    **{f"POST /api/v1/compatibility/openai/v1/{kind}": AGENT for kind in ("agents", "assistants")},
    **{f"POST /api/v1/compatibility/openai/v1/{kind}/{{agent_id}}": {"instructions": "Answer in French.",
                                                                     "metadata": {"team": None}}
       for kind in ("agents", "assistants")},
    **{f"POST /api/v1/compatibility/openai/v1/{kind}/{{agent_id}}/chat/completions": {
        "model": "gpt-4.1-mini",
        "messages": [{"role": "user", "content": "Hello!"}],
        "create_session": True,
    } for kind in ("agents", "assistants")},
}
