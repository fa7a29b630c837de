"""``tests.fake_openai``: a real loopback HTTP server that speaks enough of the OpenAI wire format for the
official ``openai`` 3.x client: models, chat completions, embeddings, Responses + Conversations
and the (retired) Assistants API, each blocking and streamed, plus injectable faults.

    fake = FakeOpenAI().start()
    client = openai.OpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0)
    fake.add_fault(Fault("status", status=429, retry_after=2, path="/chat/completions"))
    ...
    fake.stop()

Stdlib only (``http.server``), one daemon thread per connection, HTTP/1.1 keep-alive.
JSON bodies carry Content-Length; SSE bodies use chunked transfer encoding.
Model text is produced by ``fake.reply(conversation)``, default ``"Echo: <last user text>"``,
and streamed one word per chunk (leading space kept, so the pieces join to the text).

Layout: ``wire`` (dataclasses, ``Fault`` and its kinds, error bodies, SSE framing, helpers),
``endpoints`` (models and chat, Responses and Conversations, Assistants, as mixins), ``embeddings``
(hashed bag-of-words vectors), ``writing``
(JSON and SSE writing, and the faults that change it, as a mixin), ``server`` (``FakeOpenAI``:
control API, recording, routing). Its own tests: ``test_server.py``, ``test_faults.py``.
"""
from .server import FakeOpenAI
from .wire import Fault, RecordedRequest

__all__ = ["FakeOpenAI", "Fault", "RecordedRequest"]
