// The official openai Node client's model list and its errors, where it reported "(no body)" before:
// node models_and_errors.mjs  (BASE_URL, API_KEY from the environment); prints one JSON line.
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY, maxRetries: 0 });

async function caught(call) {
  try {
    await call();
    return null;
  } catch (err) {
    return { name: err.constructor.name, status: err.status, message: err.message };
  }
}

const models = [];
for await (const model of client.models.list()) {
  models.push(model.id);
}
console.log(JSON.stringify({
  models,
  retrieved: (await client.models.retrieve(models[0])).id,
  unknownModel: await caught(() => client.models.retrieve("no-such-model")),
  unknownPath: await caught(() => client.get("/nope")),
  wrongMethod: await caught(() => client.put("/threads")),
}));
