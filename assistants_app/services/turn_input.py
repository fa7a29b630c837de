"""What an API hands the turn pipeline (TurnInput) and what it gets back (TurnOutcome): plain values,
so that every API maps its request to the same turn and the turn's end to its own wire format."""
from dataclasses import dataclass, field

from ..models import Message, Thread
from ..openai_adapter import ChatMessage, TurnDone


@dataclass
class TurnInput:
    """One turn from a client: a user message, or the outputs of pending tool calls, or (the agents
    API) several new messages of any role; and what the client asked of the reply. A setting left None
    keeps the assistant's."""

    text: str | None = None
    tool_outputs: list[dict] = field(default_factory=list)
    messages: list[ChatMessage] | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: list[str] | str | None = None
    seed: int | None = None
    tools: list[dict] | None = None
    # The other Chat Completions parameters (openai_adapter.OPTIONS): response_format, tool_choice, ...
    options: dict = field(default_factory=dict)
    # Which of the history the provider sees: the Assistants API's truncation_strategy
    # ({"type": "auto"} or {"type": "last_messages", "last_messages": N}) and a prompt-token cap.
    truncation: dict | None = None
    max_prompt_tokens: int | None = None
    # Assistants v2: a run's model and instructions; stored messages a remote history has not seen
    # (chat_completions finds them in its history); columns every message this turn writes carries.
    model: str | None = None
    instructions: str | None = None
    stored_unsent: list[ChatMessage] = field(default_factory=list)
    stamp: dict = field(default_factory=dict)
    # Tools the service runs itself inside the turn (server_tools.py), by the function name the model sees.
    server_tools: dict = field(default_factory=dict)
    # Columns each of `messages` is stored with (the Responses API's item_type and item), in their order.
    message_columns: list[dict] | None = None
    # The history is this service's, whatever the credential's backend (the Responses API): a provider is
    # sent all of it -- a `responses` credential as Responses input with store false, any other as Chat
    # Completions. By default a thread's turn leaves the history to a backend that keeps it remotely.
    local_history: bool = False


@dataclass
class TurnOutcome:
    """How a turn ended, and (on a stored thread) its stored reply. ``incomplete``: the reply was cut
    at MAX_REPLY_CHARS (only for a turn that asked for that rather than a failure)."""

    done: TurnDone
    thread: Thread | None = None
    reply: Message | None = None
    incomplete: bool = False
