// Drives `slkv serve` with the official openai npm client (the test in
// tests/launch/serve/openai_client_test.cpp runs it and checks the output):
// completions and chat completions, streamed and not, and a session over
// three turns (the session_id extension). Prints one JSON object.
// Usage: node openai_client.mjs PORT
import OpenAI from "openai";

const port = process.argv[2];
const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "unused" });
const out = {};

const completion = await client.completions.create({
  model: "stories260K", prompt: "Once upon a time", max_tokens: 16, temperature: 0,
});
out.completion = completion.choices[0].text;
out.completion_usage = completion.usage;

let streamed = "";
const stream = await client.completions.create({
  model: "stories260K", prompt: "Once upon a time", max_tokens: 16, temperature: 0, stream: true,
});
for await (const chunk of stream) streamed += chunk.choices[0]?.text ?? "";
out.completion_streamed = streamed;

const messages = [{ role: "user", content: "Tom had a big red ball" }];
const chat = await client.chat.completions.create({ model: "stories260K", messages, max_tokens: 12, temperature: 0 });
out.chat = chat.choices[0].message.content;

let chatStreamed = "";
const chatStream = await client.chat.completions.create({
  model: "stories260K", messages, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true },
});
for await (const chunk of chatStream) {
  chatStreamed += chunk.choices[0]?.delta?.content ?? "";
  if (chunk.usage) out.chat_stream_usage = chunk.usage;
}
out.chat_streamed = chatStreamed;

out.session = [];
for (const text of ["Lily went to the park", "The cat sat on the mat", "One day, a little bird"]) {
  const reply = await client.chat.completions.create({
    model: "stories260K", messages: [{ role: "user", content: text }], max_tokens: 8, temperature: 0, session_id: "npm",
  });
  out.session.push({ text: reply.choices[0].message.content, prompt_tokens: reply.usage.prompt_tokens });
}
console.log(JSON.stringify(out));
