// One streamed run with the official openai Node client, as a v2 app makes it:
// node stream_run.mjs  (BASE_URL, API_KEY, ASSISTANT_ID from the environment); prints one JSON line.
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY, maxRetries: 0 });
const thread = await client.beta.threads.create({ messages: [{ role: "user", content: "hello from node" }] });
const events = [];
const deltas = [];
const stream = client.beta.threads.runs
  .stream(thread.id, { assistant_id: process.env.ASSISTANT_ID })
  .on("event", (event) => events.push(event.event))
  .on("textDelta", (delta) => deltas.push(delta.value));
const run = await stream.finalRun();
const messages = await client.beta.threads.messages.list(thread.id);
let notFound = null;
try {
  await client.beta.threads.retrieve("thread_nothing");
} catch (err) {
  notFound = err.constructor.name;
}
console.log(JSON.stringify({ status: run.status, events, text: deltas.join(""), notFound,
  stored: messages.data.map((m) => m.content[0].text.value) }));
