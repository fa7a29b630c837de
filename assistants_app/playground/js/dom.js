// Elements are built with createElement and text nodes only: no string is ever parsed as HTML
// (the page's Content-Security-Policy enforces it with Trusted Types).

export function h(tag, props, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") element.className = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined && child !== false) parent.append(child);
  }
  return parent;
}

export const $ = (selector, root = document) => root.querySelector(selector);

// One alert per area: a new one replaces the last. role="alert" is announced at once.
export function showAlert(area, message) {
  const close = h("button", {type: "button", class: "dismiss", "aria-label": "Dismiss"}, "\u00d7");
  const alert = h("div", {role: "alert", class: "alert"}, h("p", {}, message), close);
  close.addEventListener("click", () => alert.remove());
  area.replaceChildren(alert);
  return alert;
}

export function showNote(area, message) {
  area.replaceChildren(h("p", {role: "status", class: "note"}, message));
}

export function clearNotices(area) {
  area.replaceChildren();
}
