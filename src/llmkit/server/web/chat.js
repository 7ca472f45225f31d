// The chat panel: model picker, multi-turn history, streamed replies with citations, and a stop button.
import { ApiError, request } from "./api.js";
import { $, clear, h, say } from "./dom.js";
import {
  SSEParser, applyEvent, chatBody, citationLabel, defaultModel, emptyReply, formatCost, formatTokens,
  groupModels, splitSources,
} from "./lib.js";

const MODEL_KEY = "llmkit.model";
const history = []; // {role, content}: what is sent back on the next turn
let controller = null; // the AbortController of the reply being streamed

export function initChat() {
  $("chat-form").addEventListener("submit", (e) => {
    e.preventDefault();
    send();
  });
  $("prompt").addEventListener("keydown", (e) => {
    // Enter sends, Shift+Enter is a new line; not while an input method is composing a character.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $("chat-form").requestSubmit();
    }
  });
  $("stop").addEventListener("click", () => controller && controller.abort());
  $("new-chat").addEventListener("click", () => {
    if (controller) controller.abort();
    history.length = 0;
    clear($("messages"));
    say($("chat-status"), "");
    $("prompt").focus();
  });
  $("model").addEventListener("change", () => {
    sessionStorage.setItem(MODEL_KEY, $("model").value);
    showModelHint();
  });
}

/** Fill the model picker from /v1/models (plain chat, agent/…, and a rag/<collection> per collection). */
export async function loadModels() {
  const select = $("model");
  try {
    const body = await request("GET", "/v1/models");
    const ids = body.data.map((m) => m.id);
    const groups = groupModels(ids);
    const chosen = defaultModel(ids, select.value || sessionStorage.getItem(MODEL_KEY));
    clear(select);
    const group = (label, items) =>
      items.length ? h("optgroup", { label }, items.map((id) => h("option", { value: id }, id))) : null;
    select.append(
      ...[
        group("Answer from a collection, with sources", groups.rag),
        group("Chat", groups.chat),
        group("Agent", groups.agent),
      ].filter(Boolean),
    );
    select.value = chosen;
    say($("chat-status"), ids.length ? "" : "The server serves no model.");
  } catch (e) {
    say($("chat-status"), `Cannot list models: ${e.message}`, "error");
  }
  showModelHint();
}

function showModelHint() {
  const id = $("model").value;
  let text = "Plain chat with the model: no retrieval.";
  if (!id) text = "";
  else if (id.startsWith("rag/")) text = `Each turn searches the collection “${id.slice(4)}” and answers with numbered sources.`;
  else if (id.startsWith("agent/")) text = "Runs the project's agent with its tools; the answer comes when the run ends.";
  $("model-hint").textContent = text;
}

function setBusy(busy) {
  $("send").disabled = busy;
  $("stop").disabled = !busy;
  $("model").disabled = busy;
}

async function send() {
  const prompt = $("prompt");
  const text = prompt.value.trim();
  const model = $("model").value;
  if (!text || controller) return;
  if (!model) {
    say($("chat-status"), "Pick a model first.", "error");
    return;
  }
  history.push({ role: "user", content: text });
  const userItem = messageItem("user", "You", text);
  const view = assistantView(model);
  $("messages").append(userItem, view.item);
  prompt.value = "";
  say($("chat-status"), "Waiting for the model…");
  setBusy(true);
  controller = new AbortController();
  const settings = { maxTokens: $("max-tokens").value, temperature: $("temperature").value };
  let reply = emptyReply();
  try {
    const response = await request("POST", "/v1/chat/completions", {
      json: chatBody(model, history.slice(), settings),
      signal: controller.signal,
      raw: true,
    });
    say($("chat-status"), "Streaming… (Stop ends the generation on the server too)");
    reply = await readStream(response, (r) => {
      reply = r; // kept as it grows, so a stop keeps the text so far
      view.update(r);
    });
    if (reply.error) throw new ApiError(0, reply.error.message || "the stream failed", reply.error.code);
    history.push({ role: "assistant", content: reply.content });
    view.finish(reply, "");
    say($("chat-status"), "");
  } catch (e) {
    if (!userItem.isConnected) return; // "New chat" cleared this conversation while it streamed
    if (e.name === "AbortError") {
      // Closing the connection is what stops the server's generation; keep what came as the turn's answer.
      if (reply.content) history.push({ role: "assistant", content: reply.content });
      else forgetTurn(userItem, text);
      view.finish(reply, "stopped");
      say($("chat-status"), "Stopped.");
    } else {
      if (reply.content) history.push({ role: "assistant", content: reply.content });
      else forgetTurn(userItem, text);
      view.fail(e.message);
      say($("chat-status"), e.message, "error");
    }
  } finally {
    controller = null;
    setBusy(false);
    prompt.focus();
  }
}

/** A turn that got no answer leaves the history, and its text goes back in the box to send again. */
function forgetTurn(userItem, text) {
  history.pop();
  userItem.classList.add("unsent");
  if (!$("prompt").value) $("prompt").value = text;
}

/** Read an SSE response to its end, calling `onUpdate(reply)` after each event. */
async function readStream(response, onUpdate) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const parser = new SSEParser();
  let reply = emptyReply();
  for (;;) {
    const { value, done } = await reader.read();
    const text = done ? decoder.decode() : decoder.decode(value, { stream: true });
    for (const data of parser.push(done ? `${text}\n\n` : text)) {
      reply = applyEvent(reply, data);
      onUpdate(reply);
    }
    if (done || reply.done) return reply;
  }
}

function messageItem(role, who, text) {
  return h("li", { class: `msg ${role}` }, h("p", { class: "who" }, who), h("p", { class: "text" }, text));
}

/** The assistant's message: its text updates as chunks come; sources and usage are added at the end. */
function assistantView(model) {
  const text = h("p", { class: "text", "aria-busy": "true" });
  const item = h("li", { class: "msg assistant" }, h("p", { class: "who" }, model), text);
  const list = $("messages");
  const follow = () => {
    // Keep the newest text in view, unless the user scrolled up to read.
    const near = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    if (near) list.scrollTop = list.scrollHeight;
  };
  return {
    item,
    update(reply) {
      text.textContent = reply.content;
      follow();
    },
    finish(reply, note) {
      const { body } = splitSources(reply.content, reply.citations);
      text.textContent = body || (note ? "" : "(empty reply)");
      text.removeAttribute("aria-busy");
      if (reply.citations.length) item.append(sourcesList(reply.citations));
      item.append(metaLine(reply, note));
      follow();
    },
    fail(message) {
      text.removeAttribute("aria-busy");
      item.append(h("p", { class: "error", role: "alert" }, message));
      follow();
    },
  };
}

/** Numbered sources: each a disclosure whose summary names the document and place, and whose body is the snippet. */
function sourcesList(citations) {
  const items = citations.map((c) => {
    const { title, where } = citationLabel(c);
    return h(
      "li",
      { value: Number.isInteger(c.n) ? c.n : undefined },
      h(
        "details",
        {},
        h("summary", {}, h("span", { class: "src-title" }, title), where ? h("span", { class: "src-where" }, ` — ${where}`) : null),
        h("blockquote", { class: "snippet" }, c.snippet || "(no snippet)"),
      ),
    );
  });
  return h("section", { class: "sources", "aria-label": "Sources" }, h("h3", {}, "Sources"), h("ol", {}, items));
}

function metaLine(reply, note) {
  const parts = [];
  if (note) parts.push(note);
  if (reply.finishReason && reply.finishReason !== "stop") parts.push(`finish: ${reply.finishReason}`);
  if (reply.usage) parts.push(formatTokens(reply.usage.prompt_tokens, reply.usage.completion_tokens));
  if (reply.usage || reply.cost !== undefined) parts.push(formatCost(reply.cost));
  if (reply.guards) parts.push("guards acted");
  return h("p", { class: "meta" }, parts.join(" · "));
}
