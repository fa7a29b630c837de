"""A file's text cut into overlapping windows of tokens, as OpenAI's chunking_strategy says:

    chunks = chunking.split(text, chunking.static_of(strategy))   # [(text, tokens), ...]

``auto`` is OpenAI's default (800 tokens, 400 of overlap); ``static`` takes max_chunk_size_tokens
(100-4096) and chunk_overlap_tokens (at most half of it)."""
from dataclasses import dataclass

from . import tokens

AUTO = {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}


@dataclass(frozen=True)
class Window:
    size: int
    overlap: int


def stored(strategy: dict | None) -> dict:
    """The strategy as a vector store file shows it: auto becomes static with its numbers."""
    if not strategy or strategy.get("type") == "auto":
        return {"type": "static", "static": dict(AUTO)}
    return {"type": "static", "static": dict(strategy["static"])}


def window_of(strategy: dict) -> Window:
    static = stored(strategy)["static"]
    return Window(static["max_chunk_size_tokens"], static["chunk_overlap_tokens"])


def split(text: str, window: Window) -> list[tuple[str, int]]:
    """(text, token count) of each chunk; none for a text of only whitespace. A window's edges may cut
    a character's bytes: those partial bytes are dropped from that chunk (the neighbour keeps them)."""
    if not text.strip():
        return []
    encoding = tokens.encoding()
    ids = encoding.encode_ordinary(text)
    step = window.size - window.overlap
    chunks = []
    for start in range(0, len(ids), step):
        piece = ids[start:start + window.size]
        chunk = encoding.decode_bytes(piece).decode("utf-8", errors="ignore").strip()
        if chunk:
            chunks.append((chunk, len(piece)))
        if start + window.size >= len(ids):
            break
    return chunks
