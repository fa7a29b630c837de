// Files and vector stores with the official openai Node client, as a retrieval app uses them:
// node file_search.mjs  (BASE_URL, API_KEY from the environment); prints one JSON line.
import OpenAI, { toFile } from "openai";

const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY, maxRetries: 0 });
const text = "Refunds are paid back within 14 days. Parcels ship every Monday.";
const file = await client.files.create({
  file: await toFile(Buffer.from(text), "policy.txt"), purpose: "assistants" });
const content = await (await client.files.content(file.id)).text();
const store = await client.vectorStores.create({ name: "node" });
const indexed = await client.vectorStores.files.uploadAndPoll(store.id,
  await toFile(Buffer.from("Gift cards never expire."), "gifts.md"), { pollIntervalMs: 50 });
const batch = await client.vectorStores.fileBatches.createAndPoll(store.id, { file_ids: [file.id] },
  { pollIntervalMs: 50 });
const results = await client.vectorStores.search(store.id,
  { query: "when are refunds paid", max_num_results: 1 });
const listed = [];
for await (const entry of client.vectorStores.files.list(store.id)) listed.push(entry.status);
const deleted = await client.files.delete(file.id);
const after = await client.vectorStores.search(store.id, { query: "when are refunds paid" });
console.log(JSON.stringify({
  content, indexed: indexed.status, batch: batch.status, listed,
  found: results.data.map((r) => [r.filename, r.content[0].text]), deleted: deleted.deleted,
  after: after.data.map((r) => r.filename),
}));
