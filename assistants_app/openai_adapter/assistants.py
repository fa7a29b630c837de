"""The assistants backend, for servers that still implement OpenAI's retired Assistants API:
the history lives in a remote thread (thread_...), a turn is a streamed run. Runs are
always streamed, blocking turns included: reading the event stream replaces polling."""
from __future__ import annotations

from typing import Iterator

from .calls import Call
from .errors import STREAM_ENDED_EARLY, ProviderError
from .interface import AssistantSpec, TextDelta, ToolCall, ToolCallDelta, TurnDone, TurnRequest, Usage

RUN_FAILED = {"thread.run.failed": "failed", "thread.run.cancelled": "was cancelled",
              "thread.run.expired": "expired"}


def assistant_params(spec: AssistantSpec) -> dict:
    params = {"model": spec.model, "name": spec.name, "description": spec.description,
              "instructions": spec.instructions, "tools": spec.tools}
    if spec.temperature is not None:
        params["temperature"] = spec.temperature
    if spec.top_p is not None:
        params["top_p"] = spec.top_p
    if spec.metadata is not None:
        params["metadata"] = spec.metadata
    return params


def open_run(client, req: TurnRequest, call: Call):
    """Start the run for this turn (or continue the pending one with tool outputs), streamed."""
    if not (req.remote_thread_id and req.remote_assistant_id):
        raise ValueError("the assistants backend needs TurnRequest.remote_thread_id and remote_assistant_id")
    runs = client.beta.threads.runs
    outputs = [{"tool_call_id": m.tool_call_id, "output": m.content or ""}
               for m in req.new_messages if m.role == "tool"]
    if outputs:
        if not req.pending_run_id:
            raise ValueError("tool outputs need TurnRequest.pending_run_id (the run that asked for them)")
        return call.send(lambda timeout: runs.submit_tool_outputs(
            req.pending_run_id, thread_id=req.remote_thread_id, tool_outputs=outputs, stream=True,
            timeout=timeout))
    params = {"assistant_id": req.remote_assistant_id,
              "additional_messages": [{"role": m.role, "content": m.content or ""} for m in req.new_messages]}
    if req.instructions is not None:
        params["instructions"] = req.instructions
    if req.temperature is not None:
        params["temperature"] = req.temperature
    if req.top_p is not None:
        params["top_p"] = req.top_p
    if req.max_tokens is not None:
        params["max_completion_tokens"] = req.max_tokens
    params.update(run_options(req))
    return call.send(lambda timeout: runs.create(req.remote_thread_id, **params, stream=True,
                                                 timeout=timeout))


# Chat Completions options a run takes under the same name (its tool_choice and response_format have
# Chat Completions' shapes), and what a run has no room for.
RUN_OPTIONS = ("response_format", "tool_choice", "parallel_tool_calls", "reasoning_effort")


def run_options(req: TurnRequest) -> dict:
    refused = sorted(name for name, value in req.options.items()
                     if value is not None and name not in RUN_OPTIONS)
    refused += [name for name in ("stop", "seed") if getattr(req, name) is not None]
    if refused:
        raise ProviderError("unsupported", f"the credential's backend (the Assistants API) does not take "
                                           f"{', '.join(refused)}: leave them out, or use a chat_completions "
                                           "credential")
    params = {name: req.options[name] for name in RUN_OPTIONS if req.options.get(name) is not None}
    if req.truncation:
        params["truncation_strategy"] = req.truncation
    if req.max_prompt_tokens is not None:
        params["max_prompt_tokens"] = req.max_prompt_tokens
    return params


def usage_of(run) -> Usage | None:
    usage = run.usage
    if usage is None:
        return None
    prompt, completion = usage.prompt_tokens or 0, usage.completion_tokens or 0
    return Usage(prompt, completion, usage.total_tokens or prompt + completion)


def stream_turn(client, req: TurnRequest, call: Call) -> Iterator[TextDelta | ToolCallDelta | TurnDone]:
    stream = open_run(client, req, call)
    parts: list[str] = []
    result = None
    with call.guard(stream):
        for event in call.read(stream):
            name = event.event
            if name == "thread.message.delta":
                for part in event.data.delta.content or ():
                    if part.type == "text" and part.text is not None and part.text.value:
                        parts.append(part.text.value)
                        yield TextDelta(part.text.value)
            elif name == "thread.run.step.delta":
                yield from tool_call_deltas(event.data.delta)
            elif name == "thread.run.completed":
                run = event.data
                result = TurnDone(text="".join(parts), usage=usage_of(run), response_id=run.id)
            elif name == "thread.run.requires_action":
                run = event.data
                tool_calls = [ToolCall(c.id, c.function.name, c.function.arguments)
                              for c in run.required_action.submit_tool_outputs.tool_calls]
                result = TurnDone(text="".join(parts), tool_calls=tool_calls, usage=usage_of(run),
                                  finish_reason="tool_calls", response_id=run.id, pending_run_id=run.id)
            elif name == "thread.run.incomplete":
                run = event.data
                reason = run.incomplete_details.reason if run.incomplete_details is not None else None
                if reason != "max_completion_tokens":
                    raise call.failed(f"stopped its run for {call.subject} early", reason)
                result = TurnDone(text="".join(parts), usage=usage_of(run), finish_reason="length",
                                  response_id=run.id)
            elif name in RUN_FAILED:
                error = event.data.last_error
                raise call.failed(f"ended its run for {call.subject}: it {RUN_FAILED[name]}",
                                  error.code if error is not None else None)
            elif name == "error":  # openai raises APIError itself when the data nests an "error" object
                raise call.failed(f"reported an error while answering for {call.subject}",
                                  getattr(event.data, "code", None))
        if result is None:
            raise ProviderError("bad_response", STREAM_ENDED_EARLY)
    yield result


def tool_call_deltas(delta) -> Iterator[ToolCallDelta]:
    details = delta.step_details
    if details is None or details.type != "tool_calls":
        return
    for piece in details.tool_calls or ():
        if piece.type == "function" and piece.function is not None:
            yield ToolCallDelta(piece.index, piece.id, piece.function.name, piece.function.arguments or "")


def run_turn(client, req: TurnRequest, call: Call) -> TurnDone:
    result = None
    for result in stream_turn(client, req, call):  # the last item is the TurnDone
        pass
    return result


def create_thread(client, call: Call) -> str:
    return call.send(lambda timeout: client.beta.threads.create(timeout=timeout)).id


def delete_thread(client, remote_id: str, call: Call) -> None:
    call.send(lambda timeout: client.beta.threads.delete(remote_id, timeout=timeout))


def create_assistant(client, spec: AssistantSpec, call: Call) -> str:
    params = {k: v for k, v in assistant_params(spec).items() if v is not None}
    return call.send(lambda timeout: client.beta.assistants.create(**params, timeout=timeout)).id


def update_assistant(client, remote_id: str, spec: AssistantSpec, call: Call) -> None:
    params = assistant_params(spec)  # None name/description/instructions clear them remotely
    call.send(lambda timeout: client.beta.assistants.update(remote_id, **params, timeout=timeout))


def delete_assistant(client, remote_id: str, call: Call) -> None:
    call.send(lambda timeout: client.beta.assistants.delete(remote_id, timeout=timeout))


def retrieve_assistant(client, remote_id: str, call: Call) -> dict[str, str]:
    """The remote assistant's metadata (it raises not_found when there is none)."""
    assistant = call.send(lambda timeout: client.beta.assistants.retrieve(remote_id, timeout=timeout))
    with call.guard():
        metadata = assistant.metadata or {}
        return {str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {}
