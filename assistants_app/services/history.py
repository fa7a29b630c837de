"""What of a thread's history the provider sees, and when a thread has expired.

Seed 003's session settings live on the assistant: session_max_ttl (idle seconds before
a thread expires) and session_max_length (characters of history the provider may see)."""
from datetime import timedelta

from ..models import Thread, utcnow
from ..openai_adapter import ChatMessage, Connection


def is_expired(thread: Thread, now=None) -> bool:
    ttl = thread.assistant.session_max_ttl
    if not ttl:
        return False
    return (now or utcnow()) - thread.last_active_at > timedelta(seconds=ttl)


def history_for_provider(conn: Connection, thread: Thread, new_messages: list[ChatMessage]) -> list[ChatMessage]:
    """The stored history, oldest first, as the provider receives it."""
    return [
        ChatMessage(role=m.role, content=m.content, tool_calls=m.tool_calls, tool_call_id=m.tool_call_id)
        for m in thread.messages
    ]
