"""The soak's operations on the OpenAI APIs at /v1 (bench/soak.py mixes them in): Assistants v2 runs
(background, polled; streamed) and the Responses API (blocking, streamed, background polled, continued
by previous_response_id). What they acknowledge is checked at the end like every write: a completed
run's reply among the thread's messages, a completed response stored with its text."""
from __future__ import annotations

import json
import random
import time

POLL_SECONDS = 0.05
ACTIVE = ("queued", "in_progress")


class V1Operations:
    """Mixed into Soak: self.call, self.lock, self.replies, self._maybe_fault are the soak's."""

    def v1_setup(self) -> None:
        self.v2_assistant = self.server.request("POST", "/v1/assistants", {"model": "gpt-4"}).body["id"]
        self.responses: list[tuple[str, str]] = []  # (response id, text) acknowledged completed
        self.last_responses: list[str] = []

    def _poll(self, path: str, terminal: tuple[str, ...]) -> dict | None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            reply = self.server.request("GET", path, timeout=30)
            if reply.status != 200 or reply.body.get("status") not in ACTIVE:
                return reply.body if reply.status == 200 else None
            time.sleep(POLL_SECONDS)
        return None

    def v2_run(self, stream: bool = False):
        self._maybe_fault()
        words = f"soak run {random.randrange(10**9)}"
        body = {"assistant_id": self.v2_assistant, "stream": stream,
                "thread": {"messages": [{"role": "user", "content": words}]}}
        done = self.call("v2_stream" if stream else "v2_run", "POST", "/v1/threads/runs", body)
        if done["status"] != 200:
            return
        if stream:
            text = done["reply"].body
            if "event: thread.run.completed" not in text:
                done["fault"] = True  # the injected fault ended it failed, in the stream
                return
            thread_id = json.loads(text.split("event: thread.created\ndata: ", 1)[1].split("\n", 1)[0])["id"]
        else:
            run = done["reply"].body
            thread_id = run["thread_id"]
            final = self._poll(f"/v1/threads/{thread_id}/runs/{run['id']}", ("completed",))
            if final is None or final["status"] != "completed":
                with self.lock:  # the run's end as an entry of its own: a fault if it failed
                    self.results.append({"op": "v2_run_end", "status": 200, "seconds": 0,
                                         "fault": bool(final and final["status"] == "failed")})
                return
        listed = self.server.request("GET", f"/v1/threads/{thread_id}/messages?limit=1").body["data"]
        if listed:
            with self.lock:
                self.replies.append((thread_id, listed[0]["id"], words))

    def v2_stream(self):
        self.v2_run(stream=True)

    def response(self, stream: bool = False, background: bool = False):
        self._maybe_fault()
        words = f"soak response {random.randrange(10**9)}"
        body = {"model": "gpt-4", "input": words, "stream": stream, "background": background}
        with self.lock:
            previous = (random.choice(self.last_responses)
                        if self.last_responses and random.random() < 0.5 else None)
        if previous:
            body["previous_response_id"] = previous
        op = "response_background" if background else "response_stream" if stream else "response"
        done = self.call(op, "POST", "/v1/responses", body)
        if done["status"] != 200:
            return
        if stream:
            text = done["reply"].body
            if "event: response.completed" not in text:
                done["fault"] = True
                return
            final = json.loads(text.rsplit("event: response.completed\ndata: ", 1)[1]
                               .split("\n", 1)[0])["response"]
        elif background:
            final = self._poll(f"/v1/responses/{done['reply'].body['id']}", ("completed",))
            if final is None or final["status"] != "completed":
                with self.lock:
                    self.results.append({"op": "response_background_end", "status": 200, "seconds": 0,
                                         "fault": bool(final and final["status"] == "failed")})
                return
        else:
            final = done["reply"].body
        with self.lock:
            self.responses.append((final["id"], f"Echo: {words}"))
            self.last_responses = (self.last_responses + [final["id"]])[-20:]

    def response_stream(self):
        self.response(stream=True)

    def response_background(self):
        self.response(background=True)
