// The playground: connect with an API key, then the assistants and a conversation. After a
// reload the key and the open conversation come back from this tab's sessionStorage.
import {useKey} from "./api.js";
import {Assistants} from "./assistants.js";
import {Conversation} from "./conversation.js";
import {$, clearNotices, showAlert} from "./dom.js";
import {store} from "./store.js";

const keyForm = $("#key-form");
const keyInput = $("#api-key");
const keyNotices = $("#key-notices");
const connectButton = $("#connect");
const forgetButton = $("#forget-key");

const conversation = new Conversation({onOpened: (id) => assistants.markCurrent(id)});
const assistants = new Assistants({
  onOpen: (assistant) => conversation.open(assistant),
  onSaved: (assistant) => conversation.renamed(assistant),
  onDeleted: (id) => conversation.assistant?.id === id && conversation.close(),
  current: () => conversation.assistant?.id,
});

function showConnected(connected) {
  for (const id of ["#assistants-panel", "#workspace"]) $(id).hidden = !connected;
  $("#welcome").hidden = connected;
  forgetButton.hidden = !connected;
  $("#key-status").textContent = connected ? "Connected." : "";
}

// restoring: a reload (or Connect again with the same key) reopens the conversation this tab had.
async function connect(key, restoring) {
  clearNotices(keyNotices);
  restoring = restoring || key === store.apiKey();
  if (!key) {
    showAlert(keyNotices, "Paste an API key first: the first make run prints one.");
    keyInput.focus();
    return;
  }
  useKey(key);
  connectButton.disabled = true;
  try {
    await assistants.load();
  } catch (err) {
    useKey(null);
    if (err.status === 401) store.forget(); // a refused key is kept nowhere
    conversation.close();
    assistants.stop();
    showConnected(false);
    showAlert(keyNotices, err.status === 401 ? `The key was refused: ${err.message}` : err.message);
    keyInput.focus();
    return;
  } finally {
    connectButton.disabled = false;
  }
  store.setApiKey(key);
  showConnected(true);
  const saved = restoring ? store.conversation() : null;
  const assistant = saved && assistants.find(saved.agentId);
  if (assistant) await conversation.open(assistant, saved.threadId || null);
  else if (!restoring || saved) conversation.close();
}

keyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  connect(keyInput.value.trim(), false);
});

forgetButton.addEventListener("click", () => {
  store.forget();
  useKey(null);
  conversation.close();
  assistants.stop();
  keyInput.value = "";
  showConnected(false);
  keyInput.focus();
});

const saved = store.apiKey();
if (saved) {
  keyInput.value = saved;
  connect(saved, true);
}
