// Run by test_server_web_js.py under node: the page's pure functions (lib.js), and a real SSE stream of the
// server parsed in chunks of every size. Usage: node web_lib_check.mjs DIR_WITH_LIB_JS STREAM_FILE
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const lib = await import(pathToFileURL(join(process.argv[2], "lib.js")).href);
const { SSEParser, applyEvent, emptyReply, splitSources, citationLabel, errorMessage, groupModels, defaultModel,
  chatBody, formatCost, formatMs, formatTokens, metricRows, seg, validCollectionName } = lib;

function parseAll(text, size) {
  const parser = new SSEParser();
  const events = [];
  for (let i = 0; i < text.length; i += size) events.push(...parser.push(text.slice(i, i + size)));
  events.push(...parser.push("\n\n"));
  return events;
}

function replyOf(events) {
  return events.reduce(applyEvent, emptyReply());
}

// SSE framing: multi-line data, comments, other fields, CRLF split between chunks, no trailing blank line.
{
  const text = ": keep-alive\r\ndata: a\r\ndata:b\r\nevent: x\r\n\r\ndata: [DONE]\r\n\r\n";
  for (let size = 1; size <= text.length; size++) assert.deepEqual(parseAll(text, size), ["a\nb", "[DONE]"]);
  assert.deepEqual(new SSEParser().push("data: x"), []);
  assert.deepEqual(parseAll("data: x\rdata: y\r\r", 3), ["x\ny"]);
  assert.deepEqual(parseAll("\n\n\n", 1), []);
}

// Chunks to a reply: content, finish, citations, usage and cost; an error event; bad JSON; [DONE].
{
  const events = [
    JSON.stringify({ model: "rag/docs", choices: [{ index: 0, delta: { role: "assistant", content: "Three " } }] }),
    JSON.stringify({ choices: [{ index: 0, delta: { content: "years [1]." }, finish_reason: null }] }),
    JSON.stringify({ choices: [{ index: 0, delta: { content: "\n\nSources:\n[1] faq.md" }, finish_reason: "stop" }],
      citations: [{ n: 1, source: "faq.md" }] }),
    JSON.stringify({ choices: [], usage: { prompt_tokens: 9, completion_tokens: 4 }, cost_usd: null }),
    "[DONE]",
  ];
  const reply = replyOf(events);
  assert.equal(reply.content, "Three years [1].\n\nSources:\n[1] faq.md");
  assert.equal(reply.finishReason, "stop");
  assert.equal(reply.model, "rag/docs");
  assert.deepEqual(reply.citations, [{ n: 1, source: "faq.md" }]);
  assert.deepEqual(reply.usage, { prompt_tokens: 9, completion_tokens: 4 });
  assert.equal(reply.cost, null);
  assert.equal(reply.done, true);
  assert.equal(replyOf([JSON.stringify({ error: { message: "boom", code: "x" } })]).error.message, "boom");
  assert.match(replyOf(["{not json"]).error.message, /malformed/);
  assert.equal(replyOf([JSON.stringify({ choices: [{ delta: {} }] })]).content, "");
}

// The Sources block is split off only when citations came with it.
{
  assert.deepEqual(splitSources("A [1].\n\nSources:\n[1] x", [{ n: 1 }]), { body: "A [1].", sources: "[1] x" });
  assert.deepEqual(splitSources("A.\n\nSources:\n[1] x", []), { body: "A.\n\nSources:\n[1] x", sources: "" });
  assert.deepEqual(splitSources("no block", [{ n: 1 }]), { body: "no block", sources: "" });
}

// Citation labels: page and heading, else the location; never empty.
{
  assert.deepEqual(citationLabel({ source: "a.pdf", page: 3, heading: "Intro", location: "p. 3" }),
    { title: "a.pdf", where: "page 3 · Intro" });
  assert.deepEqual(citationLabel({ source: "b.md", page: null, heading: null, location: "chars 0–10" }),
    { title: "b.md", where: "chars 0–10" });
  assert.deepEqual(citationLabel({ doc_id: "d1" }), { title: "d1", where: "" });
  assert.equal(citationLabel({ page: 0 }).where, "page 0");
}

// Error lines: the server's message, Retry-After, fallbacks by status, a body that is not OpenAI's shape.
{
  const body = (message) => ({ error: { message, type: "x", code: "y" } });
  assert.equal(errorMessage(429, body("over 600 requests per minute"), "7"), "429: over 600 requests per minute (retry in 7 s)");
  assert.equal(errorMessage(403, body("this key lacks the 'admin' scope"), null), "403: this key lacks the 'admin' scope");
  assert.equal(errorMessage(401, null, null), "401: this server needs an API key");
  assert.equal(errorMessage(499, null, null), "499: the request was cancelled");
  assert.equal(errorMessage(502, null, null), "502: the server failed");
  assert.equal(errorMessage(503, body("busy"), "junk"), "503: busy");
  assert.equal(errorMessage(422, { detail: "bad" }, null), "422: bad");
  assert.equal(errorMessage(0, null, null), "the request failed");
}

// Models, the request body, formatting, names.
{
  const ids = ["smollm2-135m-instruct", "agent/default", "rag/docs", "rag/hr"];
  assert.deepEqual(groupModels(ids), { rag: ["rag/docs", "rag/hr"], agent: ["agent/default"], chat: ["smollm2-135m-instruct"] });
  assert.equal(defaultModel(ids, "rag/hr"), "rag/hr");
  assert.equal(defaultModel(ids, "rag/gone"), "rag/docs");
  assert.equal(defaultModel(["m", "agent/default"], ""), "m");
  assert.equal(defaultModel([], null), "");
  const msgs = [{ role: "user", content: "hi" }];
  assert.deepEqual(chatBody("m", msgs, { maxTokens: "", temperature: "" }),
    { model: "m", messages: msgs, stream: true, stream_options: { include_usage: true } });
  const tuned = chatBody("m", msgs, { maxTokens: "64", temperature: "0" });
  assert.equal(tuned.max_tokens, 64);
  assert.equal(tuned.temperature, 0);
  assert.equal(chatBody("m", msgs, { maxTokens: "-3", temperature: "x" }).max_tokens, undefined);
  assert.equal(formatCost(null), "cost unknown");
  assert.equal(formatCost(undefined), "cost unknown");
  assert.equal(formatCost(0), "$0");
  assert.equal(formatCost(0.00123), "$0.0012");
  assert.equal(formatCost(1.5), "$1.5000");
  assert.equal(formatMs(12.4), "12 ms");
  assert.equal(formatMs(2500), "2.50 s");
  assert.equal(formatMs(null), "–");
  assert.equal(formatTokens(10, null), "10 in / ? out");
  assert.deepEqual(metricRows({ f1: { mean: 0.5, low: 0.25, high: 0.75, n: 2 }, x: { mean: null, low: null, high: null, n: 0 } }),
    [{ name: "f1", mean: "0.500", interval: "[0.250, 0.750]", n: 2 }, { name: "x", mean: "–", interval: "[–, –]", n: 0 }]);
  assert.equal(seg("a/b?c"), "a%2Fb%3Fc");
  assert.ok(validCollectionName("docs_2.v1-x"));
  assert.ok(!validCollectionName("-docs") && !validCollectionName("a/b") && !validCollectionName(""));
}

// A real stream of the server, in chunks of every size from 1 byte up: the same reply each time.
{
  const stream = readFileSync(process.argv[3], "utf8");
  const whole = replyOf(parseAll(stream, stream.length));
  for (const size of [1, 2, 3, 5, 7, 13, 64]) assert.deepEqual(replyOf(parseAll(stream, size)), whole);
  const { body } = splitSources(whole.content, whole.citations);
  console.log(JSON.stringify({ ...whole, body }));
}
