// The public JSON API, called with the user's key like any other client. Paths are relative to
// the page, so the playground also works behind a proxy that mounts the service under a prefix.

let apiKey = null;

export function useKey(key) {
  apiKey = key;
}

export class ApiError extends Error {
  constructor(status, message, body = null) {
    super(message);
    this.name = "ApiError";
    this.status = status; // 0: no HTTP answer
    this.body = body;
  }
}

// "details.temperature: Must be ..." from webargs' {"json": {"details": {"temperature": [...]}}}.
function fieldErrors(errors, path = []) {
  if (Array.isArray(errors)) return [`${path.join(".")}: ${errors.join(" ")}`];
  if (!errors || typeof errors !== "object") return [];
  return Object.entries(errors).flatMap(([name, value]) =>
    fieldErrors(value, ["json", "query", "form"].includes(name) && !path.length ? path : [...path, name]));
}

export function describe(status, body, retryAfter = null) {
  let message = body && typeof body === "object" ? body.message || body.detail : null;
  if (typeof message !== "string" || !message) message = `The service answered HTTP ${status || "nothing"}.`;
  const details = body && typeof body === "object" ? fieldErrors(body.errors) : [];
  if (details.length) message += " " + details.join("; ");
  if (retryAfter && !/retry/i.test(message)) message += ` Retry after ${retryAfter} s.`;
  return message;
}

export async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON (a proxy's page): the status says enough
  }
  return new ApiError(response.status, describe(response.status, body, response.headers.get("Retry-After")), body);
}

export function lostConnection(err) {
  return new ApiError(0, `Lost the connection to the service (${err.message}). Check that it runs, then try again.`);
}

export async function request(method, path, body, {signal, headers} = {}) {
  const init = {method, signal, cache: "no-store", headers: {Accept: "application/json", ...headers}};
  if (apiKey) init.headers.Authorization = `Bearer ${apiKey}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw lostConnection(err);
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function json(method, path, body, options) {
  const response = await request(method, path, body, options);
  const text = await response.text();
  return {data: text ? JSON.parse(text) : null, response};
}
