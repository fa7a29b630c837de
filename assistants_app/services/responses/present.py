"""The response object of the Responses API, with every field the specification requires, from a plan's
settings or a stored Response row:

    response_object(response_id, status, echo, ...)   # a plain dict: events carry it, routes answer it
    stored_object(row)"""
from datetime import datetime

from ...openai_adapter import Usage
from ...responses_models import Response

INCOMPLETE = {"reason": "max_output_tokens"}


def timestamp(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


def usage_object(usage: Usage | dict | None) -> dict | None:
    """Chat Completions' token counts in the Responses API's shape."""
    if usage is None:
        return None
    if isinstance(usage, dict):
        return usage
    return {"input_tokens": usage.prompt_tokens, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": usage.completion_tokens, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": usage.total_tokens or usage.prompt_tokens + usage.completion_tokens}


def response_object(response_id: str, status: str, echo: dict, *, created_at: int, model: str,
                    output: list | None = None, usage: dict | None = None, error: dict | None = None,
                    completed_at: int | None = None, previous_response_id: str | None = None,
                    conversation_id: str | None = None, background: bool = False,
                    metadata: dict | None = None) -> dict:
    text = echo.get("text") or {}
    return {
        "id": response_id, "object": "response", "created_at": created_at, "status": status,
        "background": background, "completed_at": completed_at, "error": error,
        "incomplete_details": INCOMPLETE if status == "incomplete" else None,
        "instructions": echo.get("instructions"), "max_output_tokens": echo.get("max_output_tokens"),
        "max_tool_calls": echo.get("max_tool_calls"), "model": model, "output": output or [],
        "parallel_tool_calls": echo.get("parallel_tool_calls") is not False,
        "previous_response_id": previous_response_id, "prompt": echo.get("prompt"),
        "prompt_cache_key": echo.get("prompt_cache_key"),
        "reasoning": {"effort": (echo.get("reasoning") or {}).get("effort"),
                      "summary": (echo.get("reasoning") or {}).get("summary")},
        "safety_identifier": echo.get("safety_identifier"),
        "service_tier": echo.get("service_tier") or "default",
        "store": echo.get("store") is not False,
        "temperature": 1.0 if echo.get("temperature") is None else echo["temperature"],
        "text": {"format": text.get("format") or {"type": "text"},
                 "verbosity": text.get("verbosity") or "medium"},
        "tool_choice": echo.get("tool_choice") or "auto", "tools": echo.get("tools") or [],
        "top_logprobs": echo.get("top_logprobs") or 0,
        "top_p": 1.0 if echo.get("top_p") is None else echo["top_p"],
        "presence_penalty": 0.0, "frequency_penalty": 0.0, "truncation": echo.get("truncation") or "disabled",
        "usage": usage, "user": echo.get("user"), "metadata": metadata or {},
        "conversation": {"id": conversation_id} if conversation_id else None,
    }


def stored_object(row: Response) -> dict:
    return response_object(row.id, row.status, row.request, created_at=timestamp(row.created_at),
                           model=row.model, output=row.output, usage=row.usage, error=row.error,
                           completed_at=timestamp(row.completed_at),
                           previous_response_id=row.previous_response_id,
                           conversation_id=row.conversation_id or row.request.get("conversation_id"),
                           background=row.background, metadata=row.response_metadata)
