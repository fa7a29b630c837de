"""The only part of the app that imports ``openai``: three backends (chat_completions,
responses, assistants) behind one interface of plain dataclasses, one exception out.

    adapter.run_turn(conn, TurnRequest(model=..., new_messages=[ChatMessage("user", "Hi")]))

Modules: interface (the dataclasses), errors (ProviderError and the exception mapping),
calls (deadline + retries), clients (the client cache), one module per backend, and
adapter (OpenAIAdapter, the Flask extension).
"""
from .adapter import OpenAIAdapter
from .errors import ProviderError
from .interface import (OPTIONS, AssistantSpec, ChatMessage, Connection, Embeddings, TextDelta, ToolCall,
                        ToolCallDelta, TurnDone, TurnRequest, Usage)

__all__ = ["OPTIONS", "AssistantSpec", "ChatMessage", "Connection", "Embeddings", "OpenAIAdapter",
           "ProviderError", "TextDelta", "ToolCall", "ToolCallDelta", "TurnDone", "TurnRequest", "Usage"]
