// What survives a reload of this tab: the API key and the open conversation. sessionStorage
// only: the key is gone when the tab closes, and never sits in local storage or a cookie.
const KEY = "assistants_app.apiKey";
const CONVERSATION = "assistants_app.conversation";

function read(name) {
  try {
    return sessionStorage.getItem(name);
  } catch {
    return null; // storage disabled: the page still works, it just forgets on reload
  }
}

function write(name, value) {
  try {
    if (value === null) sessionStorage.removeItem(name);
    else sessionStorage.setItem(name, value);
  } catch {
    // storage disabled or full: nothing to keep
  }
}

export const store = {
  apiKey: () => read(KEY),
  setApiKey: (key) => write(KEY, key),
  conversation() {
    try {
      const saved = JSON.parse(read(CONVERSATION));
      return saved && typeof saved.agentId === "string" ? saved : null;
    } catch {
      return null;
    }
  },
  setConversation: (saved) => write(CONVERSATION, saved ? JSON.stringify(saved) : null),
  forget() {
    write(KEY, null);
    write(CONVERSATION, null);
  },
};
