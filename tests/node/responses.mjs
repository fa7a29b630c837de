// The Responses and Conversations APIs with the official openai Node client, as an app uses them:
// node responses.mjs  (BASE_URL, API_KEY from the environment); prints one JSON line.
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY, maxRetries: 0 });
const conversation = await client.conversations.create({ items: [{ role: "user", content: "I am Bob." }] });
const first = await client.responses.create({ model: "gpt-4", input: "Who am I?", conversation: conversation.id });
const deltas = [];
const stream = client.responses
  .stream({ model: "gpt-4", input: "Go on.", previous_response_id: first.id })
  .on("response.output_text.delta", (event) => deltas.push(event.delta));
const streamed = await stream.finalResponse();
const background = await client.responses.create({ model: "gpt-4", input: "Later.", background: true });
let polled = background;
while (polled.status === "queued" || polled.status === "in_progress") {
  await new Promise((resolve) => setTimeout(resolve, 50));
  polled = await client.responses.retrieve(background.id);
}
const items = await client.conversations.items.list(conversation.id, { order: "asc" });
let notFound = null;
try {
  await client.responses.retrieve("resp_nothing");
} catch (err) {
  notFound = err.constructor.name;
}
console.log(JSON.stringify({
  first: first.output_text, streamed: streamed.output_text, deltas: deltas.join(""), polled: polled.status,
  backgroundText: polled.output_text, items: items.data.map((item) => item.content[0].text), notFound,
}));
