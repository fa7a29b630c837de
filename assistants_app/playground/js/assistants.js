// The assistants list with each one's live status, the New / Edit form and the delete confirmation.
import {json} from "./api.js";
import {$, clearNotices, h, showAlert, showNote} from "./dom.js";

const LIST = "assistants?page=1&page_size=100";
const AGENTS = "api/v1/compatibility/openai/v1/agents?limit=100";
const STATUS_EVERY_MS = 30_000;

export const displayName = (assistant) => assistant.details.name || assistant.details.model || assistant.id;
const path = (assistant) => `assistants/${encodeURIComponent(assistant.id)}`;

export class Assistants {
  constructor({onOpen, onSaved, onDeleted, current}) {
    Object.assign(this, {onOpen, onSaved, onDeleted, current});
    this.items = new Map();
    this.statuses = new Map();
    this.models = new Map(); // credential id ("" for the default provider) -> a promise of its models
    this.list = $("#assistant-list");
    this.empty = $("#no-assistants");
    this.notices = $("#assistants-notices");
    this.checked = $("#status-checked");
    this.dialog = $("#assistant-dialog");
    this.form = $("#assistant-form");
    this.formTitle = $("#assistant-dialog-title");
    this.formNotices = $("#assistant-form-notices");
    this.fields = {name: $("#f-name"), model: $("#f-model"), instructions: $("#f-instructions"),
                   temperature: $("#f-temperature")};
    this.modelOptions = $("#model-options");
    this.modelNote = $("#model-note");
    this.confirm = $("#confirm-dialog");
    this.confirmText = $("#confirm-text");
    this.confirmNotices = $("#confirm-notices");

    $("#new-assistant").addEventListener("click", (event) => this.openForm(null, event.currentTarget));
    $("#refresh-status").addEventListener("click", () => this.refreshStatus());
    $("#cancel-assistant").addEventListener("click", () => this.dialog.close());
    this.form.addEventListener("submit", (event) => this.save(event));
    $("#confirm-cancel").addEventListener("click", () => this.confirm.close());
    $("#confirm-delete").addEventListener("click", () => this.remove());
    for (const dialog of [this.dialog, this.confirm]) {
      dialog.addEventListener("close", () => this.opener?.isConnected && this.opener.focus());
    }
    document.addEventListener("visibilitychange", () => !document.hidden && this.timer && this.refreshStatus());
  }

  find(id) {
    return this.items.get(id) || null;
  }

  // Throws the ApiError of a refused key: the caller shows it.
  async load() {
    const {data, response} = await json("GET", LIST);
    this.items = new Map(data.map((assistant) => [assistant.id, assistant]));
    let total = data.length;
    try {
      total = JSON.parse(response.headers.get("X-Pagination")).total ?? total;
    } catch {
      // no pagination header: the page is the whole list
    }
    this.render();
    if (total > data.length) showNote(this.notices, `Showing the first ${data.length} of ${total} assistants.`);
    this.startPolling();
    this.refreshStatus();
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.items.clear();
    this.render();
  }

  startPolling() {
    clearInterval(this.timer);
    this.timer = setInterval(() => !document.hidden && this.refreshStatus(), STATUS_EVERY_MS);
  }

  render() {
    this.list.replaceChildren(...[...this.items.values()].map((assistant) => this.item(assistant)));
    this.empty.hidden = this.items.size > 0;
  }

  item(assistant) {
    const name = displayName(assistant);
    const open = h("button", {type: "button", class: "assistant-name"}, name);
    open.addEventListener("click", () => this.onOpen(assistant));
    const edit = h("button", {type: "button", class: "small secondary", "aria-label": `Edit ${name}`}, "Edit");
    edit.addEventListener("click", () => this.openForm(assistant, edit));
    const remove = h("button", {type: "button", class: "small secondary danger", "aria-label": `Delete ${name}`}, "Delete");
    remove.addEventListener("click", () => this.askDelete(assistant, remove));
    const status = h("div", {class: "status"});
    const item = h("li", {class: "assistant", "data-id": assistant.id},
      h("div", {class: "assistant-head"}, open, h("span", {class: "model"}, assistant.details.model)),
      status, h("div", {class: "assistant-actions"}, edit, remove));
    this.showStatus(item, status, this.statuses.get(assistant.id));
    if (this.current() === assistant.id) open.setAttribute("aria-current", "true");
    return item;
  }

  showStatus(item, area, status) {
    const seen = JSON.stringify(status || null);
    if (area.dataset.seen === seen) return; // unchanged: an open "Why?" stays open
    area.dataset.seen = seen;
    if (!status) {
      area.replaceChildren(h("span", {class: "badge unknown"}, "CHECKING"));
      return;
    }
    const available = status.status === "AVAILABLE";
    const badge = h("span", {class: `badge ${available ? "ok" : "bad"}`}, status.status);
    const errors = status.status_errors || [];
    if (available || !errors.length) {
      area.replaceChildren(badge);
      return;
    }
    const name = displayName(this.items.get(item.dataset.id) || {details: {}, id: ""});
    area.replaceChildren(badge, h("details", {class: "why"},
      h("summary", {}, "Why", h("span", {class: "visually-hidden"}, ` is ${name} unavailable`), "?"),
      h("ul", {}, errors.map((error) => h("li", {}, error)))));
  }

  async refreshStatus() {
    if (!this.items.size) return;
    try {
      const {data} = await json("GET", AGENTS);
      for (const agent of data.data) this.statuses.set(agent.id, {status: agent.status, status_errors: agent.status_errors});
      for (const item of this.list.children) {
        this.showStatus(item, item.querySelector(".status"), this.statuses.get(item.dataset.id));
      }
      this.checked.textContent = `Status checked at ${new Date().toLocaleTimeString()}.`;
    } catch (err) {
      this.checked.textContent = `Could not check the status: ${err.message}`;
    }
  }

  markCurrent(id) {
    for (const button of this.list.querySelectorAll(".assistant-name")) {
      if (button.closest("li").dataset.id === id) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
  }

  // ------------------------------------------------------------------------ the form

  openForm(assistant, opener) {
    this.editing = assistant;
    this.opener = opener;
    this.formTitle.textContent = assistant ? `Edit ${displayName(assistant)}` : "New assistant";
    clearNotices(this.formNotices);
    const details = assistant ? assistant.details : {};
    this.fields.name.value = details.name || "";
    this.fields.model.value = details.model || "";
    this.fields.instructions.value = details.instructions || "";
    this.fields.temperature.value = details.temperature ?? "";
    this.dialog.showModal();
    this.fields.name.focus();
    this.suggestModels(assistant ? assistant.credential : null);
  }

  async suggestModels(credential) {
    const key = credential || "";
    if (!this.models.has(key)) {
      const query = credential ? `?credential=${encodeURIComponent(credential)}` : "";
      this.models.set(key, json("GET", `openai/get_models${query}`).then(({data}) => data.models));
    }
    this.modelNote.textContent = "Asking the provider for its models\u2026";
    try {
      const models = await this.models.get(key);
      this.modelOptions.replaceChildren(...models.map((model) => h("option", {value: model})));
      this.modelNote.textContent = models.length
        ? `The provider offers ${models.length} model${models.length > 1 ? "s" : ""}: pick one, or type any name.`
        : "The provider lists no models: type the model's name.";
    } catch (err) {
      this.models.delete(key);
      this.modelOptions.replaceChildren();
      this.modelNote.textContent = `The provider's models could not be listed (${err.message}) Type the model's name.`;
    }
  }

  details() {
    const {name, model, instructions, temperature} = this.fields;
    if (!model.value.trim()) {
      showAlert(this.formNotices, "Model is required: pick one of the provider's, or type its name.");
      model.focus();
      return null;
    }
    let degrees = null;
    if (temperature.value.trim() !== "" || temperature.validity.badInput) {
      degrees = Number(temperature.value);
      if (temperature.validity.badInput || !Number.isFinite(degrees) || degrees < 0 || degrees > 2) {
        showAlert(this.formNotices, "Temperature is a number from 0 to 2 (or empty for the model's default).");
        temperature.focus();
        return null;
      }
    }
    // PUT replaces details whole: keep what this form does not show (tools, top_p...).
    const {id, ...kept} = this.editing ? this.editing.details : {};
    return {...kept, name: name.value.trim() || null, model: model.value.trim(),
            instructions: instructions.value.trim() ? instructions.value : null, temperature: degrees};
  }

  async save(event) {
    event.preventDefault();
    clearNotices(this.formNotices);
    const details = this.details();
    if (!details) return;
    const button = event.submitter || this.form.querySelector("[type=submit]");
    button.disabled = true;
    try {
      const {data} = this.editing
        ? await json("PUT", path(this.editing), {details})
        : await json("POST", "assistants", {details});
      this.items.set(data.id, data);
      this.render();
      this.opener = [...this.list.children].find((item) => item.dataset.id === data.id)?.querySelector(".assistant-name");
      this.dialog.close();
      this.onSaved(data);
      this.statuses.delete(data.id);
      await this.refreshStatus();
    } catch (err) {
      showAlert(this.formNotices, err.message);
    } finally {
      button.disabled = false;
    }
  }

  // ------------------------------------------------------------------------ deleting

  askDelete(assistant, opener) {
    this.deleting = assistant;
    this.opener = opener;
    clearNotices(this.confirmNotices);
    this.confirmText.textContent = `Delete ${displayName(assistant)}? Its conversations are deleted with it.`;
    this.confirm.showModal();
    $("#confirm-cancel").focus(); // the safe choice first
  }

  async remove() {
    const assistant = this.deleting;
    try {
      await json("DELETE", path(assistant));
    } catch (err) {
      if (err.status !== 404) { // already gone is what was asked for
        showAlert(this.confirmNotices, err.message);
        return;
      }
    }
    this.items.delete(assistant.id);
    this.render();
    this.opener = $("#new-assistant");
    this.confirm.close();
    this.onDeleted(assistant.id);
    showNote(this.notices, `Deleted ${displayName(assistant)}.`);
  }
}
