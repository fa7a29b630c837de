"""POST {base_url}/embeddings: a batch of texts in, their vectors out (Embeddings), through the same
prepared-JSON path, deadline and retries as a chat turn (prepared.py, calls.py)."""
from __future__ import annotations

import json

from .calls import Call
from .interface import Embeddings
from .prepared import post_json


def create(client, model: str, inputs: list[str], dimensions: int | None, call: Call) -> Embeddings:
    body: dict = {"model": model, "input": inputs, "encoding_format": "float"}
    if dimensions:
        body["dimensions"] = dimensions
    response = call.send(lambda timeout: post_json(client, "/embeddings", body, timeout=timeout))
    with call.guard():
        reply = json.loads(response.content)
        items = sorted(reply["data"], key=lambda item: item["index"])
        vectors = [[float(value) for value in item["embedding"]] for item in items]
        if len(vectors) != len(inputs) or any(len(vector) != len(vectors[0]) for vector in vectors):
            raise call.failed(f"answered {len(vectors)} embeddings of uneven sizes for {len(inputs)} inputs")
        usage = reply.get("usage") or {}
        return Embeddings(vectors, int(usage.get("prompt_tokens") or 0))
