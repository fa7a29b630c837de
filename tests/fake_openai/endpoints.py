"""The OpenAI endpoints of the fake, as mixins of ``FakeOpenAI`` (``self`` is the server):
handlers take ``(body, query, *path_params)`` and run under the server lock; they return a
JSON-able object or a ``Reply`` (SSE frames and/or a ``commit`` applied only if delivered)."""
from __future__ import annotations

import json
from typing import Any

from .wire import (HTTPError, Reply, count, forced_calls, new_id, now, page, split_words, sse,
                   structured_reply, text_of)


class ChatEndpoints:
    """GET /models[/{id}], POST /chat/completions."""

    def _model_obj(self, mid: str) -> dict:
        return {"id": mid, "object": "model", "created": 1686935002, "owned_by": "openai"}

    def _list_models(self, body, query):
        huge = self._shaped("huge_models")
        if huge is None:
            return {"object": "list", "data": [self._model_obj(m) for m in self.models]}
        data, size = [], len('{"object": "list", "data": []}')
        while size < huge.size:  # ~85 bytes a model
            data.append(self._model_obj(f"model-{len(data):07d}"))
            size += len(json.dumps(data[-1])) + 2
        return {"object": "list", "data": data}

    def _get_model(self, body, query, mid):
        if mid not in self.models:
            raise HTTPError(404, f"The model `{mid}` does not exist or you do not have access to it.",
                            code="model_not_found", param="model")
        return self._model_obj(mid)

    def _check_model(self, model: Any) -> None:
        if model not in self.models:
            raise HTTPError(404, f"The model `{model}` does not exist or you do not have access to it.",
                            code="model_not_found", param="model")

    # ------------------------------------------------------------------ chat completions
    def _chat(self, body, query):
        self._check_model(body.get("model"))
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise HTTPError(400, "'messages' must be a non-empty array.", param="messages")
        conversation = [{**m, "content": text_of(m.get("content"))} for m in messages]
        if (self.context_window is not None
                and sum(len(m["content"]) for m in conversation) > self.context_window):
            raise HTTPError(400, "This model's maximum context length was exceeded.",
                            code="context_length_exceeded", param="messages")
        calls = self._next_tool_calls() or forced_calls(body, self.call_offered_tools)
        text = (self.text_before_calls if calls
                else structured_reply(body, conversation) or self._model_text(conversation))
        prompt = sum(count(m["content"]) for m in conversation)
        completion = sum(count(c["arguments"]) for c in calls or ()) + count(text)
        usage = {"prompt_tokens": prompt, "completion_tokens": completion,
                 "total_tokens": prompt + completion}
        base = {"id": new_id("chatcmpl-"), "created": now(), "model": body["model"],
                "system_fingerprint": None}
        finish = "tool_calls" if calls else "stop"
        if incomplete := self._shaped("incomplete"):
            finish = incomplete.reason or "content_filter"
        no_usage = self._shaped("no_usage") is not None
        tool_calls = [{"id": c["id"], "type": "function",
                       "function": {"name": c["name"], "arguments": c["arguments"]}} for c in calls or []]
        if not body.get("stream"):
            message = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
            if tool_calls:
                message["tool_calls"] = tool_calls
            reply = {**base, "object": "chat.completion", "usage": usage, "service_tier": "default",
                     "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}]}
            if no_usage:
                del reply["usage"]
            return reply

        include_usage = bool((body.get("stream_options") or {}).get("include_usage")) and not no_usage

        def chunk(delta, finish_reason=None):
            c = {**base, "object": "chat.completion.chunk",
                 "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
            if self.stray_choices:
                c["choices"].append({"index": 1, "delta": {"content": " (another choice)"}, "logprobs": None,
                                     "finish_reason": finish_reason})
            return sse({**c, "usage": None} if include_usage else c)

        frames = [chunk({"role": "assistant", "content": "" if text is not None else None, "refusal": None})]
        if text is not None:
            frames += [chunk({"content": p}) for p in split_words(text)]
        if calls:
            for i, c in enumerate(calls):
                half = len(c["arguments"]) // 2
                frames.append(chunk({"tool_calls": [{"index": i, "id": c["id"], "type": "function",
                                                     "function": {"name": c["name"], "arguments": ""}}]}))
                for part in (c["arguments"][:half], c["arguments"][half:]):
                    frames.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]}))
        frames.append(chunk({}, finish))
        if include_usage:
            frames.append(sse({**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}))
        frames.append(sse("[DONE]"))
        return Reply(events=frames, api="chat")


class ResponsesEndpoints:
    """POST /responses, GET /responses/{id}, /conversations[/{id}[/items]]."""

    @staticmethod
    def _input_items(value: Any) -> list[dict]:
        """Normalise Responses `input` (or conversation `items`) to stored conversation items."""
        if value is None:
            return []
        if isinstance(value, str):
            value = [{"role": "user", "content": value}]
        items = []
        for raw in value:
            item = dict(raw)
            kind = item.setdefault("type", "message")
            if kind == "message":
                text_type = "output_text" if item.get("role") == "assistant" else "input_text"
                content = item.get("content")
                if isinstance(content, str):
                    content = [{"type": text_type, "text": content}]
                item.update(content=content or [], status=item.get("status", "completed"))
                item.setdefault("id", new_id("msg_"))
            elif kind == "function_call_output":
                item.setdefault("id", new_id("fco_"))
                item.setdefault("status", "completed")
            else:
                item.setdefault("id", new_id("item_"))
            items.append(item)
        return items

    @staticmethod
    def _as_messages(items: list[dict]) -> list[dict]:
        out = []
        for item in items:
            if item.get("type") == "message":
                out.append({"role": item.get("role", "user"), "content": text_of(item.get("content"))})
            elif item.get("type") == "function_call_output":
                out.append({"role": "tool", "content": str(item.get("output", "")),
                            "tool_call_id": item.get("call_id")})
            elif item.get("type") == "function_call":
                out.append({"role": "assistant", "content": "",
                            "tool_call": {"name": item.get("name"), "arguments": item.get("arguments")}})
        return out

    def _conversation(self, cid: str) -> list[dict]:
        if cid not in self.conversations:
            raise HTTPError(404, f"Conversation with id '{cid}' not found.", param="conversation")
        return self.conversations[cid]

    def _create_conversation(self, body, query):
        cid = new_id("conv_")
        obj = {"id": cid, "object": "conversation", "created_at": now(),
               "metadata": body.get("metadata") or {}}
        self.conversations[cid] = self._input_items(body.get("items"))
        self.conversation_meta[cid] = obj
        return obj

    def _get_conversation(self, body, query, cid):
        self._conversation(cid)
        return self.conversation_meta[cid]

    def _delete_conversation(self, body, query, cid):
        self._conversation(cid)
        del self.conversations[cid], self.conversation_meta[cid]
        return {"id": cid, "object": "conversation.deleted", "deleted": True}

    def _list_items(self, body, query, cid):
        return page(self._conversation(cid), query, default_order="desc")

    def _add_items(self, body, query, cid):
        items = self._input_items(body.get("items"))
        self._conversation(cid).extend(items)
        return {"object": "list", "data": items, "first_id": items[0]["id"] if items else None,
                "last_id": items[-1]["id"] if items else None, "has_more": False}

    # ------------------------------------------------------------------ responses
    def _get_response(self, body, query, rid):
        if rid not in self.responses:
            raise HTTPError(404, f"Response with id '{rid}' not found.")
        return self.responses[rid]

    def _responses(self, body, query):
        self._check_model(body.get("model"))
        conv = body.get("conversation")
        cid = conv.get("id") if isinstance(conv, dict) else conv
        history = self._conversation(cid) if cid else []
        new_items = self._input_items(body.get("input"))
        context = ([{"role": "system", "content": body["instructions"]}] if body.get("instructions") else [])
        context += self._as_messages(history + new_items)
        calls = self._next_tool_calls()
        text = None if calls else self._model_text(context)
        if calls:
            output = [{"type": "function_call", "id": new_id("fc_"), "call_id": c["id"], "name": c["name"],
                       "arguments": c["arguments"], "status": "completed"} for c in calls]
        else:
            output = [{"type": "message", "id": new_id("msg_"), "role": "assistant", "status": "completed",
                       "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]}]
        in_tok = sum(count(m["content"]) for m in context)
        out_tok = sum(count(c["arguments"]) for c in calls) if calls else count(text)
        created = now()
        resp = {"id": new_id("resp_"), "object": "response", "created_at": created, "status": "completed",
                "completed_at": created, "background": False, "error": None, "incomplete_details": None,
                "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
                "model": body["model"], "output": output, "parallel_tool_calls": True,
                "previous_response_id": None, "reasoning": {"effort": None, "summary": None},
                "store": body.get("store", True), "temperature": body.get("temperature", 1.0),
                "text": {"format": {"type": "text"}}, "tool_choice": body.get("tool_choice", "auto"),
                "tools": body.get("tools") or [], "top_p": body.get("top_p", 1.0), "truncation": "disabled",
                "usage": {"input_tokens": in_tok, "input_tokens_details": {"cached_tokens": 0},
                          "output_tokens": out_tok, "output_tokens_details": {"reasoning_tokens": 0},
                          "total_tokens": in_tok + out_tok},
                "user": None, "metadata": body.get("metadata") or {},
                "conversation": {"id": cid} if cid else None}

        if self._shaped("no_usage"):
            resp["usage"] = None
        if incomplete := self._shaped("incomplete"):
            resp.update(status="incomplete", completed_at=None,
                        incomplete_details={"reason": incomplete.reason or "content_filter"})
        if failed := self._shaped("failed"):
            resp.update(status="failed", completed_at=None, output=[], usage=None, error={
                "code": failed.reason or "server_error",
                "message": failed.message or "The model failed to generate a response."})

        def commit():
            self.responses[resp["id"]] = resp
            if cid and cid in self.conversations and resp["status"] != "failed":
                self.conversations[cid].extend(new_items + [dict(o) for o in output])

        if not body.get("stream"):
            commit()
            return resp
        return Reply(events=self._response_events(resp, text), api="responses", commit=commit)

    @staticmethod
    def _response_events(resp: dict, text: str | None) -> list[bytes]:
        events: list[dict] = []

        def emit(type_, **fields):
            events.append({"type": type_, "sequence_number": len(events), **fields})

        pending = {**resp, "status": "in_progress", "completed_at": None, "output": [], "usage": None}
        emit("response.created", response=pending)
        emit("response.in_progress", response=pending)
        for idx, item in enumerate(resp["output"]):  # a failed Response has none
            loc = {"item_id": item["id"], "output_index": idx}
            if item["type"] == "message":
                emit("response.output_item.added", output_index=idx,
                     item={**item, "status": "in_progress", "content": []})
                part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
                emit("response.content_part.added", **loc, content_index=0, part=part)
                for piece in split_words(text or ""):
                    emit("response.output_text.delta", **loc, content_index=0, delta=piece, logprobs=[])
                emit("response.output_text.done", **loc, content_index=0, text=text, logprobs=[])
                emit("response.content_part.done", **loc, content_index=0, part={**part, "text": text})
            else:
                emit("response.output_item.added", output_index=idx,
                     item={**item, "status": "in_progress", "arguments": ""})
                emit("response.function_call_arguments.delta", **loc, delta=item["arguments"])
                emit("response.function_call_arguments.done", **loc, arguments=item["arguments"],
                     name=item["name"])
            emit("response.output_item.done", output_index=idx, item=item)
        emit(f"response.{resp['status']}", response=resp)  # completed, incomplete or failed
        return [sse(e, e["type"]) for e in events]


class AssistantsEndpoints:
    """The Assistants API (beta, v2): /assistants, /threads, /threads/{id}/messages, /threads/{id}/runs."""

    def _get(self, store: dict, oid: str, what: str) -> Any:
        if oid not in store:
            raise HTTPError(404, f"No {what} found with id '{oid}'.")
        return store[oid]

    _ASSISTANT_FIELDS = ("name", "description", "instructions", "model", "tools", "metadata", "temperature",
                         "top_p", "response_format", "tool_resources")

    def _create_assistant(self, body, query):
        if body.get("model") not in self.models:
            raise HTTPError(400, f"The requested model '{body.get('model')}' does not exist.",
                            code="model_not_found", param="model")
        obj = {"id": new_id("asst_"), "object": "assistant", "created_at": now(), "name": None,
               "description": None, "instructions": None, "tools": [], "metadata": {}, "temperature": 1.0,
               "top_p": 1.0, "response_format": "auto", "tool_resources": {}}
        obj.update({k: body[k] for k in self._ASSISTANT_FIELDS if k in body})
        self.assistants[obj["id"]] = obj
        return obj

    def _list_assistants(self, body, query):
        return page(list(self.assistants.values()), query)

    def _get_assistant(self, body, query, aid):
        return self._get(self.assistants, aid, "assistant")

    def _update_assistant(self, body, query, aid):
        obj = self._get(self.assistants, aid, "assistant")
        obj.update({k: body[k] for k in self._ASSISTANT_FIELDS if k in body})
        return obj

    def _delete_assistant(self, body, query, aid):
        self._get(self.assistants, aid, "assistant")
        del self.assistants[aid]
        return {"id": aid, "object": "assistant.deleted", "deleted": True}

    def _message(self, tid: str, role: str, content: Any, **extra) -> dict:
        ts = now()
        return {"id": new_id("msg_"), "object": "thread.message", "created_at": ts, "thread_id": tid,
                "role": role,
                "content": [{"type": "text", "text": {"value": text_of(content), "annotations": []}}],
                "assistant_id": None, "run_id": None, "attachments": [], "metadata": {},
                "status": "completed", "completed_at": ts, "incomplete_at": None, "incomplete_details": None,
                **extra}

    def _create_thread(self, body, query):
        tid = new_id("thread_")
        obj = {"id": tid, "object": "thread", "created_at": now(), "metadata": body.get("metadata") or {},
               "tool_resources": {}}
        self.thread_meta[tid] = obj
        self.threads[tid] = [self._message(tid, m.get("role", "user"), m.get("content"))
                             for m in body.get("messages") or []]
        return obj

    def _get_thread(self, body, query, tid):
        return self._get(self.thread_meta, tid, "thread")

    def _delete_thread(self, body, query, tid):
        self._get(self.thread_meta, tid, "thread")
        del self.thread_meta[tid], self.threads[tid]
        return {"id": tid, "object": "thread.deleted", "deleted": True}

    def _create_message(self, body, query, tid):
        self._get(self.threads, tid, "thread")
        msg = self._message(tid, body.get("role", "user"), body.get("content"),
                            metadata=body.get("metadata") or {})
        self.threads[tid].append(msg)
        return msg

    def _list_messages(self, body, query, tid):
        return page(self._get(self.threads, tid, "thread"), query)

    def _run_obj(self, rid: str) -> Any:
        return self._get(self.runs, rid, "run")

    def _create_run(self, body, query, tid):
        self._get(self.threads, tid, "thread")
        asst = self._get(self.assistants, body.get("assistant_id"), "assistant")
        for m in body.get("additional_messages") or []:
            self.threads[tid].append(self._message(tid, m.get("role", "user"), m.get("content")))
        run = {"id": new_id("run_"), "object": "thread.run", "created_at": now(), "thread_id": tid,
               "assistant_id": asst["id"], "status": "queued", "required_action": None, "last_error": None,
               "expires_at": now() + 600, "started_at": None, "cancelled_at": None, "failed_at": None,
               "completed_at": None, "incomplete_details": None, "model": body.get("model") or asst["model"],
               "instructions": body.get("instructions") or asst.get("instructions") or "",
               "tools": body.get("tools") or asst.get("tools") or [], "metadata": body.get("metadata") or {},
               "usage": None, "temperature": body.get("temperature", asst.get("temperature")),
               "top_p": body.get("top_p", asst.get("top_p")), "max_prompt_tokens": None,
               "max_completion_tokens": None, "truncation_strategy": {"type": "auto", "last_messages": None},
               "response_format": "auto", "tool_choice": "auto", "parallel_tool_calls": True}
        self.runs[run["id"]] = run
        self._keep_run_fault(run["id"])
        if body.get("stream"):
            return self._run_stream(run, fresh=True)
        return Reply(dict(run), headers={"openai-poll-after-ms": "20"})

    def _keep_run_fault(self, rid: str) -> None:
        """A reply fault of a run applies when the run is done: at once when streamed, or at a poll."""
        for kind in ("no_usage", "incomplete", "failed"):
            if self._shaped(kind):
                self._run_faults[rid] = self._shaping

    def _list_runs(self, body, query, tid):
        self._get(self.threads, tid, "thread")
        return page([r for r in self.runs.values() if r["thread_id"] == tid], query)

    def _advance(self, run: dict) -> tuple[dict, dict | None]:
        """Do the model turn of a queued run: returns (final run, assistant message or None); not stored."""
        tid = run["thread_id"]
        context = ([{"role": "system", "content": run["instructions"]}] if run["instructions"] else [])
        context += [{"role": m["role"], "content": text_of(m["content"])} for m in self.threads.get(tid, [])]
        context += self._run_tool_outputs.get(run["id"], [])
        ts = now()
        final = {**run, "started_at": run["started_at"] or ts}
        calls = self._next_tool_calls()
        if calls:
            tool_calls = [{"id": c["id"], "type": "function",
                           "function": {"name": c["name"], "arguments": c["arguments"]}} for c in calls]
            final.update(status="requires_action", required_action={
                "type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": tool_calls}})
            return final, None
        text = self._model_text(context)
        msg = self._message(tid, "assistant", text, assistant_id=run["assistant_id"], run_id=run["id"])
        prompt = sum(count(m["content"]) for m in context)
        final.update(status="completed", completed_at=ts, required_action=None,
                     usage={"prompt_tokens": prompt, "completion_tokens": count(text),
                            "total_tokens": prompt + count(text)})
        fault = self._run_faults.pop(run["id"], None)
        if fault and fault.kind == "no_usage":
            final["usage"] = None
        elif fault and fault.kind == "incomplete":
            reason = fault.reason or "max_prompt_tokens"
            final.update(status="incomplete", completed_at=None, incomplete_details={"reason": reason})
            msg.update(status="incomplete", completed_at=None, incomplete_at=ts,
                       incomplete_details={"reason": "run_incomplete"})
        elif fault and fault.kind == "failed":
            error = {"code": fault.reason or "server_error",
                     "message": fault.message or "Sorry, something went wrong."}
            final.update(status="failed", completed_at=None, failed_at=ts, usage=None, last_error=error)
            return final, None
        return final, msg

    def _apply(self, final: dict, msg: dict | None) -> None:
        self.runs[final["id"]] = final
        if msg and final["thread_id"] in self.threads:
            self.threads[final["thread_id"]].append(msg)

    def _get_run(self, body, query, tid, rid):
        run = self._run_obj(rid)
        if run["status"] in ("queued", "in_progress"):
            self._apply(*self._advance(run))
        return Reply(self.runs[rid], headers={"openai-poll-after-ms": "20"})

    def _submit_tool_outputs(self, body, query, tid, rid):
        run = self._run_obj(rid)
        if run["status"] != "requires_action":
            raise HTTPError(400, f"Runs in status \"{run['status']}\" do not accept tool outputs.")
        outputs = body.get("tool_outputs") or []
        self._run_tool_outputs.setdefault(rid, []).extend(
            {"role": "tool", "content": str(o.get("output", "")), "tool_call_id": o.get("tool_call_id")}
            for o in outputs)
        run.update(status="queued", required_action=None)
        self._keep_run_fault(rid)
        if body.get("stream"):
            return self._run_stream(run, fresh=False)
        return dict(run)

    def _cancel_run(self, body, query, tid, rid):
        run = self._run_obj(rid)
        if run["status"] in ("completed", "failed", "cancelled", "expired"):
            raise HTTPError(400, f"Cannot cancel run with status '{run['status']}'.")
        run.update(status="cancelled", cancelled_at=now(), required_action=None)
        return run

    @staticmethod
    def _tool_call_step_frames(run: dict) -> list[str]:
        step = {"id": new_id("step_"), "object": "thread.run.step", "created_at": now(), "run_id": run["id"],
                "assistant_id": run["assistant_id"], "thread_id": run["thread_id"], "type": "tool_calls",
                "status": "in_progress", "cancelled_at": None, "completed_at": None, "expired_at": None,
                "failed_at": None, "last_error": None, "usage": None, "metadata": {},
                "step_details": {"type": "tool_calls", "tool_calls": []}}
        frames = [sse(step, "thread.run.step.created"), sse(step, "thread.run.step.in_progress")]
        for index, call in enumerate(run["required_action"]["submit_tool_outputs"]["tool_calls"]):
            pieces = [{"index": index, "id": call["id"], "type": "function",
                       "function": {"name": call["function"]["name"], "arguments": "", "output": None}}]
            pieces += [{"index": index, "type": "function", "function": {"arguments": piece}}
                       for piece in split_words(call["function"]["arguments"])]
            frames += [sse({"id": step["id"], "object": "thread.run.step.delta",
                            "delta": {"step_details": {"type": "tool_calls", "tool_calls": [piece]}}},
                           "thread.run.step.delta") for piece in pieces]
        return frames

    def _run_stream(self, run: dict, fresh: bool) -> Reply:
        final, msg = self._advance(run)
        in_progress = {**run, "status": "in_progress", "started_at": final["started_at"]}
        frames = [sse(run, "thread.run.created")] if fresh else []
        frames += [sse(run, "thread.run.queued"), sse(in_progress, "thread.run.in_progress")]
        # what a poll sees if the stream breaks (the next retrieve then finishes the run)
        run.update(status="in_progress", started_at=final["started_at"])
        if msg:
            text = msg["content"][0]["text"]["value"]
            start = {**msg, "status": "in_progress", "content": [], "completed_at": None}
            frames += [sse(start, "thread.message.created"), sse(start, "thread.message.in_progress")]
            for piece in split_words(text):
                part = {"index": 0, "type": "text", "text": {"value": piece, "annotations": []}}
                delta = {"id": msg["id"], "object": "thread.message.delta", "delta": {"content": [part]}}
                frames.append(sse(delta, "thread.message.delta"))
            frames.append(sse(msg, f"thread.message.{msg['status']}"))  # completed or incomplete
        # the calls as a tool_calls step's deltas, as OpenAI streams them
        if final["status"] == "requires_action":
            frames += self._tool_call_step_frames(final)
        last = {"completed": "thread.run.completed", "incomplete": "thread.run.incomplete",
                "failed": "thread.run.failed"}.get(final["status"], "thread.run.requires_action")
        frames.append(sse(final, last))
        frames.append(sse("[DONE]", "done"))
        return Reply(events=frames, api="assistants", commit=lambda: self._apply(final, msg))
