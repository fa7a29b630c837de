"""The plain values the app hands to the adapter and gets back: no openai types leak out."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Connection:
    """A provider credential (or the app default from OPENAI_API_KEY / OPENAI_BASE_URL)."""

    # e.g. f"{credential.id}:{credential.updated_at.timestamp()}" or "default"; a new key rebuilds the client
    cache_key: str
    api: str  # "chat_completions" | "responses" | "assistants"
    api_key: str
    base_url: str | None = None
    organization: str | None = None
    api_version: str | None = None  # set => Azure OpenAI (base_url is the azure_endpoint)
    provider: str = "openai"  # "openai" | "azure" | "openai_compatible"
    # The operator's own provider (OPENAI_BASE_URL): any address, and its URL is not shown to
    # clients. A tenant's credential (False) may reach only what PROVIDER_ALLOWED_HOSTS allows.
    trusted: bool = False


@dataclass
class ChatMessage:
    role: str  # "system" | "user" | "assistant" | "tool"
    content: str | None
    tool_calls: list[dict] | None = None  # [{"id", "name", "arguments"}] on an assistant message
    tool_call_id: str | None = None  # on a "tool" message


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass
class TurnRequest:
    model: str
    instructions: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    # Earlier turns, oldest first: only chat_completions sends them (the others keep history remotely).
    history: list[ChatMessage] = field(default_factory=list)
    # This turn: one user message, or "tool" messages answering pending tool calls.
    new_messages: list[ChatMessage] = field(default_factory=list)
    tools: list[dict] = field(default_factory=list)  # [{"type": "function", "function": {...}}]
    remote_thread_id: str | None = None  # conv_... (responses) or thread_... (assistants)
    remote_assistant_id: str | None = None  # asst_... (assistants)
    pending_run_id: str | None = None  # assistants: the run in requires_action that tool outputs continue
    instruction_mode: str = "system-message"  # or "user-message" (chat_completions)
    max_tokens: int | None = None
    stop: list[str] | str | None = None
    seed: int | None = None
    # Backends keeping the history remotely apply these there (chat_completions: the pipeline trims
    # the history it sends): the Assistants API's truncation_strategy shape, and a prompt-token cap.
    truncation: dict | None = None
    max_prompt_tokens: int | None = None
    # The other Chat Completions parameters a client asked for, by their Chat Completions names
    # (OPTIONS): each backend sends them in its own API's terms, or refuses one it cannot send.
    options: dict = field(default_factory=dict)


# The generation parameters beyond TurnRequest's own fields, by their Chat Completions names.
OPTIONS = ("response_format", "tool_choice", "parallel_tool_calls", "logprobs", "top_logprobs",
           "frequency_penalty", "presence_penalty", "logit_bias", "reasoning_effort", "service_tier", "user",
           "modalities", "prediction", "audio", "web_search_options", "verbosity", "prompt_cache_key",
           "safety_identifier", "moderation", "prompt_cache_options", "prompt_cache_retention", "functions",
           "function_call")


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True)
class TextDelta:
    """A piece of the reply's text, as the provider streamed it (with its logprobs, when asked for)."""

    text: str
    logprobs: dict | None = None


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of a tool call as the provider streamed it: the first piece of call ``index`` carries
    its id and name, every piece a part of its arguments (JSON text)."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass
class TurnDone:
    """How a turn ended: the last item of a streamed turn, the result of a blocking one."""

    text: str  # the whole reply; "" when the model only called tools
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage | None = None
    finish_reason: str = "stop"  # "stop" | "length" | "tool_calls"
    response_id: str | None = None  # chatcmpl-... / resp_... / run_...
    pending_run_id: str | None = None  # assistants: the run now waiting for tool outputs
    logprobs: dict | None = None  # chat_completions: the choice's logprobs, when asked for


@dataclass
class Embeddings:
    """The vectors of a batch of texts, in the order of the texts, and the tokens they cost."""

    vectors: list[list[float]]
    prompt_tokens: int = 0


@dataclass
class AssistantSpec:
    """A remote assistant's settings (assistants backend only)."""

    model: str
    name: str | None = None
    description: str | None = None
    instructions: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    tools: list[dict] = field(default_factory=list)
    metadata: dict | None = None
