"""POST /v1/embeddings of the fake, as a mixin of ``FakeOpenAI``: deterministic vectors that put texts
sharing words close together (a hashed bag of lower-cased words, unit length), in OpenAI's wire format.
``dimensions`` in the request sets the size (default 256); ``fake.embedding_inputs`` counts the texts
embedded, so a test can tell a batch from one request per text."""
from __future__ import annotations

import hashlib
import math
import re

from .wire import HTTPError

DEFAULT_DIMENSIONS = 256
WORD = re.compile(r"\w+")


def embed(text: str, dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    vector = [0.0] * dimensions
    for word in WORD.findall(text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        slot = int.from_bytes(digest[:4], "little") % dimensions
        vector[slot] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(value * value for value in vector)) or 1.0
    return [value / norm for value in vector]


class EmbeddingsEndpoints:
    def _embeddings(self, body, query):
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or not all(isinstance(item, str) for item in inputs):
            raise HTTPError(400, "'input' must be a string or a non-empty array of strings.", param="input")
        if not isinstance(body.get("model"), str):
            raise HTTPError(400, "'model' is required.", param="model")
        dimensions = body.get("dimensions") or DEFAULT_DIMENSIONS
        self.embedding_inputs += len(inputs)
        tokens = sum(len(WORD.findall(item)) for item in inputs)
        return {"object": "list", "model": body["model"],
                "data": [{"object": "embedding", "index": index, "embedding": embed(item, dimensions)}
                         for index, item in enumerate(inputs)],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
