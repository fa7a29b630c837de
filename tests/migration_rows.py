"""Rows of every kind, as each schema revision stores them, for the migration tests
(tests/test_migrations.py): a database is built at a revision, these rows are inserted with that
revision's columns, and the upgrade (and downgrade) must keep every one of them.

Each row names the revision that introduced its kind (``since``). A row is inserted at every
revision from that one on, with the columns that revision has: a column added later is left out
there, and its value is only checked on the databases built at a revision that has it.

A new migration lands with its rows here: the kinds it adds (a table, a nullable column, rows only
its schema allows), named in REVISIONS with what they are (test_every_revision_has_its_rows fails
until it is)."""
from datetime import datetime, timezone

from cryptography.fernet import Fernet, MultiFernet

from assistants_app.auth import digest

INITIAL, USAGE, ASSISTANTS_V2, RUNS_OUTLIVE, RESPONSES, FILES = (
    "ccf57db1db86", "c511b54c28e9", "a2f1c0de0012", "806074792856", "b7d3e5f1a9c2", "f1e5a7c0d028")

# Every revision, oldest first, and the kinds of rows it added.
REVISIONS = {
    INITIAL: "api keys, credentials, assistants, conversation threads, agents sessions, messages "
             "(tool calls, summaries)",
    USAGE: "token usage rows, a key's daily token budget",
    ASSISTANTS_V2: "v2 threads (no assistant), messages of runs, runs (completed, requires_action)",
    RUNS_OUTLIVE: "a run whose assistant was deleted (no assistant_id, its asst_ id kept), its reply",
    RESPONSES: "a conversation (conv_ thread) with typed items, a stored response of it, a background "
               "response's events",
    FILES: "files, vector stores (one expiring), their files (completed, failed, in a batch), a batch, "
           "chunks (keyword-indexed), a v2 thread's tool_resources, a credential's embedding model",
}

API_KEY = "sk-asst-migration-test-key-000000000000000000000"
PROVIDER_KEY = "sk-stored-provider-key-9876"
TENANT = "default"
CREDENTIAL = "cred-0000-0000-0000-000000000001"
HELPER, AGENT = "asst-row-0000-0000-000000000001", "asst-row-0000-0000-000000000002"
STORE, OLD_STORE, FILE, BAD_FILE = ("vs_migrationStore0001", "vs_migrationStore0002", "file-migration0001",
                                    "file-migration0002")
CHAT, SESSION, PENDING, V2_THREAD = ("thread_migrationChat0001", "thread_migrationSession02",
                                     "thread_migrationPending03", "thread_migrationV2thread4")
# A v2 thread whose run's assistant was deleted; the asst_ id the run keeps of it.
ORPHAN_THREAD, ORPHAN_RUN, GONE_ASSISTANT = ("thread_migrationOrphan06", "run_migrationRun0003",
                                             "asst_migrationGone000003")
CONVERSATION = "conv_migrationConversation5"


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 28, hour, minute, 0, 123456, tzinfo=timezone.utc)


def encrypted(secret_keys: str, plaintext: str) -> bytes:
    return MultiFernet([Fernet(key.encode()) for key in secret_keys.split(",")]).encrypt(plaintext.encode())


def rows(secret_keys: str) -> list[tuple[str, str, dict]]:
    """(since revision, table, row) in insertion order (parents first)."""
    def message(id_, thread, position, role, content, hour, **more):
        return {"id": id_, "thread_id": thread, "position": position, "role": role, "content": content,
                "tool_calls": None, "tool_call_id": None, "is_summary": False,
                "created_at": at(hour, position), **more}

    assistant_common = {
        "tenant": TENANT, "type": "CUSTOM", "icon_src": "/images/assistant.png", "session_max_ttl": None,
        "session_max_length": None, "session_summarization_strategy": "delete_oldest",
        "chat_system_instruction_mode": "system-message", "completion_role": None, "agent_tools": [],
        "index_id": None, "index_top_n": None, "index_similarity_cutoff": None,
        "index_reference_format": None,
        "index_reference_delimiter": None, "agent_metadata": {}, "created_at": at(9), "updated_at": at(9),
    }
    thread_common = {"tenant": TENANT, "remote_id": None, "turn_token": None, "turn_started_at": None,
                     "pending_tool_calls": None, "pending_run_id": None}
    weather_call = [{"id": "call_weather1", "name": "weather", "arguments": '{"city": "Oslo"}'}]
    return [
        (INITIAL, "api_keys", {"id": 1, "name": "frontend", "tenant": TENANT, "key_digest": digest(API_KEY),
                               "key_prefix": API_KEY[:12], "created_at": at(8), "revoked_at": None,
                               "daily_token_budget": 1_000_000}),
        (INITIAL, "api_keys", {"id": 2, "name": "old", "tenant": TENANT, "key_digest": "0" * 64,
                               "key_prefix": "sk-asst-old0", "created_at": at(8), "revoked_at": at(8, 30),
                               "daily_token_budget": None}),
        (INITIAL, "credentials", {"id": CREDENTIAL, "tenant": TENANT, "name": "local vllm",
                                  "provider": "openai_compatible", "base_url": "http://127.0.0.1:9/v1",
                                  "api": "chat_completions",
                                  "api_key_ciphertext": encrypted(secret_keys, PROVIDER_KEY),
                                  "api_key_hint": PROVIDER_KEY[-4:], "organization": None,
                                  "api_version": None, "embedding_model": "nomic-embed-text",
                                  "embedding_dimensions": 64,
                                  "created_at": at(8, 45), "updated_at": at(8, 45)}),
        # A Flowise assistant with a credential; an agent (seed 003 fields) on the default provider.
        (INITIAL, "assistants", {**assistant_common, "id": HELPER,
                                 "credential_id": CREDENTIAL,
                                 "details": {"name": "helper", "model": "gpt-4", "instructions": "Be brief.",
                                             "temperature": 0.5, "tools": ["function"]},
                                 "details_id": "asst_migrationHelper0001"}),
        (INITIAL, "assistants", {**assistant_common, "id": AGENT, "credential_id": None,
                                 "details": {"name": "agent", "model": "gpt-4", "description": "sessions"},
                                 "details_id": "asst_migrationAgent00002", "session_max_ttl": 10 ** 9,
                                 "session_max_length": 50_000, "session_summarization_strategy": "summarize",
                                 "chat_system_instruction_mode": "user-message",
                                 "completion_role": "assistant",
                                 "agent_tools": [{"link_type": "tool", "tool_id": "t1"}], "index_id": "idx-1",
                                 "index_top_n": 3, "index_similarity_cutoff": 0.25,
                                 "agent_metadata": {"team": "search"}}),
        # A conversation of three turns, one of them a tool call and its answer.
        (INITIAL, "threads", {**thread_common, "id": CHAT,
                              "assistant_id": HELPER,
                              "created_at": at(10), "last_active_at": at(10, 5)}),
        (INITIAL, "messages", message("msg_mig01", CHAT, 0, "user", "Hello!", 10)),
        (INITIAL, "messages", message("msg_mig02", CHAT, 1, "assistant", "Hi, how can I help?", 10)),
        (INITIAL, "messages", message("msg_mig03", CHAT, 2, "user", "Weather in Oslo?", 10)),
        (INITIAL, "messages", message("msg_mig04", CHAT, 3, "assistant", None, 10,
                                      tool_calls=weather_call)),
        (INITIAL, "messages", message("msg_mig05", CHAT, 4, "tool", '{"celsius": -3}', 10,
                                      tool_call_id="call_weather1")),
        (INITIAL, "messages", message("msg_mig06", CHAT, 5, "assistant",
                                      "It is -3 °C in Oslo.", 10)),
        # An agents-API session whose older turns were summarized.
        (INITIAL, "threads", {**thread_common, "id": SESSION,
                              "assistant_id": AGENT,
                              "created_at": at(11), "last_active_at": at(11, 3)}),
        (INITIAL, "messages", message("msg_mig07", SESSION, 0, "assistant",
                                      "Summary of the earlier conversation: they met.", 11, is_summary=True)),
        (INITIAL, "messages", message("msg_mig08", SESSION, 1, "user", "And then?", 11)),
        (INITIAL, "messages", message("msg_mig09", SESSION, 2, "assistant", "They talked.", 11)),
        # A thread waiting for tool outputs.
        (INITIAL, "threads", {**thread_common, "id": PENDING,
                              "assistant_id": HELPER, "created_at": at(12),
                              "last_active_at": at(12, 1), "pending_tool_calls": weather_call}),
        (INITIAL, "messages", message("msg_mig10", PENDING, 0, "user", "Oslo?", 12)),
        (INITIAL, "messages", message("msg_mig11", PENDING, 1, "assistant", None, 12,
                                      tool_calls=weather_call)),
        # A thread started and never used: no message, and nothing to report of it.
        (INITIAL, "threads", {**thread_common, "id": "thread_migrationUnused05", "assistant_id": HELPER,
                              "created_at": at(14), "last_active_at": at(14)}),
        (USAGE, "token_usage", {"id": 1, "created_at": at(10, 1), "tenant": TENANT, "api_key_id": 1,
                                "api": "conversations", "assistant_id": HELPER,
                                "model": "gpt-4", "prompt_tokens": 12, "completion_tokens": 7}),
        (USAGE, "token_usage", {"id": 2, "created_at": at(11, 2), "tenant": TENANT, "api_key_id": 1,
                                "api": "agents", "assistant_id": AGENT,
                                "model": "gpt-4", "prompt_tokens": 30, "completion_tokens": 4}),
        # An Assistants-v2 thread: no assistant of its own; a completed run and one waiting for tool outputs.
        (ASSISTANTS_V2, "threads", {**thread_common, "id": V2_THREAD, "assistant_id": None,
                                    "created_at": at(13), "last_active_at": at(13, 2),
                                    "metadata": {"user": "u-42"}, "pending_tool_calls": weather_call,
                                    "pending_run_id": None,
                                    "tool_resources": {"file_search": {"vector_store_ids": [STORE]}}}),
        (ASSISTANTS_V2, "messages", message("msg_mig12", V2_THREAD, 0, "user", "Hi v2", 13,
                                            metadata={"source": "web"}, attachments=[])),
        (ASSISTANTS_V2, "messages", message("msg_mig13", V2_THREAD, 1, "assistant", "Hello v2", 13,
                                            run_id="run_migrationRun0001", metadata={},
                                            assistant_id=HELPER, attachments=[])),
        (ASSISTANTS_V2, "messages", message("msg_mig14", V2_THREAD, 2, "user", "Oslo weather?", 13,
                                            metadata={}, attachments=[])),
        (ASSISTANTS_V2, "messages", message("msg_mig15", V2_THREAD, 3, "assistant", None, 13,
                                            tool_calls=weather_call, run_id="run_migrationRun0002",
                                            assistant_id=HELPER, metadata={},
                                            attachments=[])),
        *_retrieval_rows(),
        (ASSISTANTS_V2, "runs", _run("run_migrationRun0001", "completed", at(13, 1), completed_at=at(13, 1),
                                     usage={"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7})),
        (ASSISTANTS_V2, "runs", _run("run_migrationRun0002", "requires_action", at(13, 2),
                                     expires_at=datetime(2099, 1, 1, tzinfo=timezone.utc),
                                     required_action={"type": "submit_tool_outputs", "submit_tool_outputs": {
                                         "tool_calls": [{"id": "call_weather1", "type": "function",
                                                         "function": {"name": "weather",
                                                                      "arguments": '{"city": "Oslo"}'}}]}})),
        # A run whose assistant was deleted: no assistant_id, its public id kept (its reply names it so).
        (RUNS_OUTLIVE, "threads", {**thread_common, "id": ORPHAN_THREAD, "assistant_id": None,
                                   "created_at": at(15), "last_active_at": at(15, 1), "metadata": {}}),
        (RUNS_OUTLIVE, "messages", message("msg_mig16", ORPHAN_THREAD, 0, "user", "Still there?", 15,
                                           metadata={}, attachments=[])),
        (RUNS_OUTLIVE, "messages", message("msg_mig17", ORPHAN_THREAD, 1, "assistant", "Yes.", 15,
                                           run_id=ORPHAN_RUN, assistant_id="asst-row-0000-0000-000000000003",
                                           metadata={}, attachments=[])),
        (RUNS_OUTLIVE, "runs", _run(ORPHAN_RUN, "completed", at(15, 1), completed_at=at(15, 1),
                                    thread_id=ORPHAN_THREAD, assistant_id=None,
                                    assistant_public_id=GONE_ASSISTANT)),
        # A conversation of the Responses API: a message, a response's reply, a function call and its
        # output.
        (RESPONSES, "threads", {**thread_common, "id": CONVERSATION, "assistant_id": None,
                                "created_at": at(15), "last_active_at": at(15, 3),
                                "metadata": {"app": "agents-sdk"}}),
        (RESPONSES, "messages", message("msg_mig20", CONVERSATION, 0, "user", "Weather?", 15, metadata=None,
                                        attachments=None, item_type=None,
                                        item={"type": "message", "id": "msg_mig20", "role": "user",
                                              "content": [{"type": "input_text", "text": "Weather?"}]})),
        (RESPONSES, "messages", message("msg_mig21", CONVERSATION, 1, "assistant", "It rains.", 15,
                                        metadata=None, attachments=None, item_type=None,
                                        item={"ids": []})),
        (RESPONSES, "messages", message("msg_mig22", CONVERSATION, 2, "assistant", None, 15, metadata=None,
                                        attachments=None, tool_calls=weather_call, item_type="function_call",
                                        item={"ids": ["fc_migration1"]})),
        (RESPONSES, "messages", message("msg_mig23", CONVERSATION, 3, "tool", "-3", 15, metadata=None,
                                        attachments=None, tool_call_id="call_weather1",
                                        item_type="function_call_output", item={"id": "fco_migration1"})),
        (RESPONSES, "responses", {"id": "resp_migration000000001", "tenant": TENANT, "status": "completed",
                                  "created_at": at(15, 1), "completed_at": at(15, 1), "model": "gpt-4",
                                  "previous_response_id": None, "conversation_id": CONVERSATION,
                                  "assistant_id": None, "background": True,
                                  "request": {"instructions": None, "conversation_id": CONVERSATION},
                                  "input_items": [{"type": "message", "id": "msg_mig20", "role": "user",
                                                   "content": [{"type": "input_text", "text": "Weather?"}]}],
                                  "output": [{"type": "message", "id": "msg_mig21", "status": "completed",
                                              "role": "assistant", "content": [
                                                  {"type": "output_text", "text": "It rains.",
                                                   "annotations": [], "logprobs": []}]}],
                                  "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
                                  "error": None, "incomplete_details": None, "metadata": {}, "api_key_id": 1,
                                  "turn_token": None, "expires_at": None}),
        (RESPONSES, "response_events", {"response_id": "resp_migration000000001", "sequence_number": 0,
                                        "event": {"type": "response.created", "sequence_number": 0}}),
    ]


def _run(id_: str, status: str, created_at: datetime, **more) -> dict:
    return {"id": id_, "tenant": TENANT, "thread_id": V2_THREAD,
            "assistant_id": HELPER, "assistant_public_id": "asst_migrationHelper0001", "status": status,
            "created_at": created_at,
            "started_at": created_at, "completed_at": None, "failed_at": None, "cancelled_at": None,
            "expires_at": None, "last_error": None, "usage": None, "required_action": None, "model": "gpt-4",
            "instructions": "Be brief.", "tools": [{"type": "function", "function": {"name": "weather"}}],
            "options": {"temperature": 0.2}, "metadata": {"k": "v"}, "turn_token": None, "api_key_id": 1,
            **more}


def _retrieval_rows() -> list[tuple[str, str, dict]]:
    """A file in two stores (one expired), indexed in one, failed in a batch of the other; its chunks."""
    store = {"tenant": TENANT, "expires_after": None, "expires_at": None, "last_active_at": at(15),
             "created_at": at(15), "credential_id": None, "embedding_model": "nomic-embed-text",
             "embedding_dimensions": None, "revision": 3}
    entry = {"tenant": TENANT, "batch_id": None, "last_error": None, "usage_bytes": 0,
             "chunking_strategy": {"type": "static", "static": {"max_chunk_size_tokens": 800,
                                                                "chunk_overlap_tokens": 400}},
             "attributes": {"lang": "en", "year": 2026}, "created_at": at(15, 1), "started_at": at(15, 1),
             "expires_at": at(15, 5)}
    vector = bytes(range(16)) * 4
    return [
        (FILES, "files", {"id": FILE, "tenant": TENANT, "filename": "handbook.pdf", "purpose": "assistants",
                          "bytes": 9, "content": b"%PDF-1.7\n", "created_at": at(15)}),
        (FILES, "files", {"id": BAD_FILE, "tenant": TENANT, "filename": "image.bin", "purpose": "user_data",
                          "bytes": 4, "content": bytes([0, 255, 1, 254]), "created_at": at(15)}),
        (FILES, "vector_stores", {**store, "id": STORE, "name": "handbook", "metadata": {"team": "hr"}}),
        (FILES, "vector_stores", {**store, "id": OLD_STORE, "name": None, "metadata": {},
                                  "expires_after": {"anchor": "last_active_at", "days": 1},
                                  "expires_at": at(16), "revision": 0}),
        (FILES, "vector_store_file_batches", {"id": "vsfb_migrationBatch01", "tenant": TENANT,
                                              "vector_store_id": OLD_STORE, "cancelled": False,
                                              "created_at": at(15, 2)}),
        (FILES, "vector_store_files", {**entry, "vector_store_id": STORE, "file_id": FILE,
                                       "status": "completed", "usage_bytes": 180}),
        (FILES, "vector_store_files", {**entry, "vector_store_id": OLD_STORE, "file_id": BAD_FILE,
                                       "batch_id": "vsfb_migrationBatch01", "status": "failed",
                                       "last_error": {"code": "unsupported_file", "message": "Not text."}}),
        (FILES, "vector_store_chunks", {"id": 1, "vector_store_id": STORE, "file_id": FILE, "position": 0,
                                        "text": "Every employee gets 27 vacation days.", "tokens": 8,
                                        "embedding": vector}),
        (FILES, "vector_store_chunks", {"id": 2, "vector_store_id": STORE, "file_id": FILE, "position": 1,
                                        "text": "Expenses are refunded within 30 days.", "tokens": 7,
                                        "embedding": vector}),
    ]
