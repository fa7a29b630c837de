// One conversation: its history, the composer, a reply streamed in as it arrives, Stop, and the
// form that answers tool calls. A failed or stopped turn leaves the page as the service leaves
// the thread: as it was before, with the message back in the field.
import {ApiError, describe, json, lostConnection, request} from "./api.js";
import {displayName} from "./assistants.js";
import {$, clearNotices, h, showAlert, showNote} from "./dom.js";
import {MarkdownStream, renderMarkdown} from "./markdown.js";
import {readEvents} from "./sse.js";
import {store} from "./store.js";

const RETRY_AFTER_STOP_MS = 5_000;

function wait(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new DOMException("Stopped", "AbortError"));
    }, {once: true});
  });
}

function prettyArguments(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 1).replace(/\n\s*/g, " ");
  } catch {
    return text;
  }
}

export class Conversation {
  constructor({onOpened}) {
    this.onOpened = onOpened;
    this.panel = $("#conversation-panel");
    this.title = $("#conversation-title");
    this.log = $("#conversation");
    this.notices = $("#conversation-notices");
    this.form = $("#composer");
    this.field = $("#message");
    this.sendButton = $("#send");
    this.stopButton = $("#stop");
    this.assistant = null;
    this.threadId = null;
    this.turn = null; // the AbortController of the turn under way
    this.session = 0; // bumped whenever the log is cleared: a late turn must not write into another
    this.stoppedAt = 0;
    this.form.addEventListener("submit", (event) => this.submit(event));
    this.field.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.altKey && !event.ctrlKey
          && !event.metaKey) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
    this.stopButton.addEventListener("click", () => this.stop());
    $("#new-conversation").addEventListener("click", () => this.restart());
  }

  async open(assistant, threadId = null) {
    this.reset();
    this.assistant = assistant;
    this.threadId = threadId;
    this.save();
    this.panel.hidden = false;
    this.title.textContent = displayName(assistant);
    this.onOpened(assistant.id);
    if (threadId) await this.loadHistory();
    this.field.focus();
  }

  restart() {
    this.reset();
    this.threadId = null;
    this.save();
    showNote(this.notices, "A new conversation: the assistant remembers nothing of the last one.");
    this.field.focus();
  }

  close() {
    this.reset();
    this.assistant = null;
    this.threadId = null;
    this.save();
    this.panel.hidden = true;
  }

  renamed(assistant) {
    if (this.assistant?.id !== assistant.id) return;
    this.assistant = assistant;
    this.title.textContent = displayName(assistant);
  }

  reset() {
    this.session += 1;
    this.turn?.abort();
    this.log.replaceChildren();
    clearNotices(this.notices);
  }

  save() {
    store.setConversation(this.assistant ? {agentId: this.assistant.id, threadId: this.threadId} : null);
  }

  async loadHistory() {
    const session = this.session;
    try {
      const {data} = await json("GET", `openai/threads/${encodeURIComponent(this.threadId)}/messages`);
      if (session === this.session) this.showHistory(data.data);
    } catch (err) {
      if (session !== this.session) return;
      if (err.status === 404) {
        this.threadId = null;
        this.save();
        showNote(this.notices, "The last conversation is gone (expired or deleted): this is a new one.");
      } else {
        showAlert(this.notices, err.message);
      }
    }
  }

  showHistory(messages) {
    const names = new Map();
    let pending = null;
    for (const message of messages) {
      if (message.role === "user") {
        this.append("user", message.content || "");
      } else if (message.role === "assistant") {
        const article = this.append("assistant", message.content || "");
        const calls = message.tool_calls || [];
        pending = calls.length ? {article, calls, answered: new Set()} : null;
        for (const call of calls) names.set(call.id, call.name);
        if (calls.length) this.showToolCalls(article, calls);
      } else if (message.role === "tool") {
        this.append("tool", message.content || "", names.get(message.tool_call_id));
        pending?.answered.add(message.tool_call_id);
      }
    }
    if (pending && pending.calls.some((call) => !pending.answered.has(call.id))) {
      this.toolForm(pending.article, pending.calls);
    }
    this.scrollToEnd(true);
  }

  append(role, text, toolName) {
    const who = role === "user" ? "You" : role === "tool" ? `Tool output${toolName ? ` of ${toolName}` : ""}`
      : displayName(this.assistant);
    const body = h("div", {class: "body"});
    if (role === "assistant") body.append(renderMarkdown(text));
    else body.textContent = text; // the user's own words, shown as typed
    const article = h("article", {class: `message ${role}`}, h("p", {class: "who"}, who), body);
    this.log.append(article);
    this.scrollToEnd(true);
    return article;
  }

  scrollToEnd(force) {
    const log = this.log;
    if (force || log.scrollHeight - log.scrollTop - log.clientHeight < 80) log.scrollTop = log.scrollHeight;
  }

  // ------------------------------------------------------------------------ a turn

  submit(event) {
    event.preventDefault();
    if (this.turn) return;
    const text = this.field.value;
    if (!text.trim()) {
      showAlert(this.notices, "Type a message first.");
      this.field.focus();
      return;
    }
    const mine = this.append("user", text);
    this.field.value = "";
    this.run({user_input: text}, () => {
      mine.remove();
      if (!this.field.value) this.field.value = text;
    });
  }

  stop() {
    this.stoppedAt = Date.now();
    this.turn?.abort();
  }

  setStreaming(streaming) {
    this.stopButton.hidden = !streaming;
    this.sendButton.setAttribute("aria-disabled", String(streaming));
    if (!streaming && document.activeElement === this.stopButton) this.field.focus();
    if (!streaming && document.activeElement === document.body) this.field.focus();
  }

  // POST /openai/chat; just after a Stop the service may still be closing that turn (409): wait for it.
  async post(body, signal) {
    for (;;) {
      try {
        return await request("POST", "openai/chat", body, {signal, headers: {Accept: "text/event-stream"}});
      } catch (err) {
        if (err.status !== 409 || Date.now() - this.stoppedAt > RETRY_AFTER_STOP_MS) throw err;
        await wait(250, signal);
      }
    }
  }

  async run(input, undo, done = () => {}) {
    clearNotices(this.notices);
    const session = this.session;
    const controller = new AbortController();
    this.turn = controller;
    this.setStreaming(true);
    const reply = this.append("assistant", "");
    reply.setAttribute("aria-busy", "true"); // read out once it is complete, not piece by piece
    const body = reply.querySelector(".body");
    try {
      if (!this.threadId) {
        const {data} = await json("POST", "openai/initialize", {agent_id: this.assistant.id}, {signal: controller.signal});
        this.threadId = data.thread_id;
        this.save();
      }
      const response = await this.post({agent_id: this.assistant.id, thread_id: this.threadId, stream: true, ...input},
                                       controller.signal);
      const outcome = await this.readReply(response, body);
      reply.removeAttribute("aria-busy");
      if (outcome.status === "requires_action" && outcome.tool_calls?.length) {
        this.showToolCalls(reply, outcome.tool_calls);
        this.toolForm(reply, outcome.tool_calls);
      }
      done();
    } catch (err) {
      if (session !== this.session) return; // the conversation was left or restarted meanwhile
      reply.remove();
      undo();
      if (err.name === "AbortError") showNote(this.notices, "Stopped. Nothing of that turn was saved.");
      else showAlert(this.notices, err.message);
    } finally {
      if (this.turn === controller) {
        this.turn = null;
        this.setStreaming(false);
      }
    }
  }

  // Draws the reply as it grows (MarkdownStream), all of it at the end; resolves to the done event's data.
  async readReply(response, body) {
    const reply = new MarkdownStream(body, () => this.scrollToEnd(false));
    try {
      for await (const batch of readEvents(response)) {
        let outcome = null;
        for (const event of batch) {
          const data = JSON.parse(event.data);
          if (event.event === "delta") reply.append(data.delta);
          else if (event.event === "done") outcome = data;
          else if (event.event === "error") throw new ApiError(data.code || 502, describe(data.code, data));
        }
        if (outcome) return outcome;
      }
    } catch (err) {
      if (err instanceof ApiError || err.name === "AbortError") throw err;
      if (err instanceof SyntaxError) throw new ApiError(0, "The service sent an event that could not be read.");
      throw lostConnection(err);
    } finally {
      reply.flush();
    }
    throw new ApiError(0, "The connection ended before the reply was complete; nothing was saved. Send again.");
  }

  // ------------------------------------------------------------------------ tool calls

  showToolCalls(article, calls) {
    article.querySelector(".body").append(
      h("p", {class: "tool-intro"}, calls.length > 1 ? "Calls these tools:" : "Calls a tool:"),
      h("ul", {class: "tool-calls"}, calls.map((call) =>
        h("li", {}, h("code", {}, `${call.name}(${prettyArguments(call.arguments)})`)))));
  }

  toolForm(article, calls) {
    const outputs = calls.map((call, index) => {
      const id = `tool-output-${this.session}-${index}`;
      const twins = calls.filter((other) => other.name === call.name).length > 1;
      return {call, id, label: `Output of ${call.name}${twins ? ` (${call.id})` : ""}`};
    });
    const fields = outputs.map(({id, label}) => h("div", {class: "field"},
      h("label", {for: id}, label), h("textarea", {id, rows: 2})));
    const form = h("form", {class: "tool-form", "aria-label": "Tool outputs", novalidate: true}, fields,
      h("button", {type: "submit"}, "Send outputs"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.turn) return;
      const answers = outputs.map(({call, id}) => ({tool_call_id: call.id, output: form.querySelector(`#${id}`).value}));
      form.hidden = true;
      const shown = answers.map((answer, index) => this.append("tool", answer.output, outputs[index].call.name));
      this.run({tool_outputs: answers}, () => {
        shown.forEach((element) => element.remove());
        form.hidden = false;
      }, () => form.remove());
    });
    article.append(form);
    form.querySelector("textarea").focus();
  }
}
