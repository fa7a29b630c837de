// Server-sent events read from a fetch() body (EventSource cannot POST or send a key). Yields
// the events of each network read together, so the caller draws once per read.
function parse(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? {event, data: data.join("\n")} : null;
}

export async function* readEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const {value, done} = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, {stream: true});
      // A "\r" at the very end may be half of a "\r\n": keep it for the next read.
      const cut = buffer.endsWith("\r") ? buffer.length - 1 : buffer.length;
      let text = buffer.slice(0, cut).replace(/\r\n?/g, "\n");
      const rest = buffer.slice(cut);
      const batch = [];
      let end;
      while ((end = text.indexOf("\n\n")) >= 0) {
        const event = parse(text.slice(0, end));
        if (event) batch.push(event);
        text = text.slice(end + 2);
      }
      buffer = text + rest;
      if (batch.length) yield batch;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}
