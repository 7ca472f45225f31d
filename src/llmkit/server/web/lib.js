// Pure functions of the page: no DOM, no fetch, so the tests run them under node.

/**
 * Incremental Server-Sent Events parser: push() text as it arrives, get back the `data` of each
 * complete event (several `data:` lines joined with "\n", as the SSE spec says).
 * A chunk may end mid-line, mid-event or between "\r" and "\n": what is incomplete waits for the next push.
 */
export class SSEParser {
  constructor() {
    this.buffer = "";
    this.data = [];
  }

  push(text) {
    let pending = this.buffer + text;
    let held = "";
    if (pending.endsWith("\r")) {
      // "\r" may be the first half of "\r\n": decide when the next chunk comes.
      held = "\r";
      pending = pending.slice(0, -1);
    }
    const lines = pending.split(/\r\n|\r|\n/);
    this.buffer = lines.pop() + held;
    const events = [];
    for (const line of lines) {
      if (line === "") {
        if (this.data.length) events.push(this.data.join("\n"));
        this.data = [];
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "data") this.data.push(value);
      }
    }
    return events;
  }
}

/** A fresh streamed reply, before its first chunk. */
export function emptyReply() {
  return { content: "", citations: [], usage: null, cost: undefined, finishReason: null, error: null, guards: null, model: null };
}

/**
 * The reply after one SSE event's data (a JSON chunk, "[DONE]", or an error event); returns a new object.
 * Chat chunks carry `choices[0].delta.content`; a rag/ model's last chunk carries `citations`; with
 * `stream_options.include_usage` a last chunk carries `usage` and `cost_usd`.
 */
export function applyEvent(reply, data) {
  if (data === "[DONE]") return { ...reply, done: true };
  let chunk;
  try {
    chunk = JSON.parse(data);
  } catch {
    return { ...reply, error: { message: "the server sent a malformed event" } };
  }
  const next = { ...reply };
  if (chunk.error) next.error = chunk.error;
  if (chunk.model) next.model = chunk.model;
  const choice = Array.isArray(chunk.choices) ? chunk.choices[0] : undefined;
  if (choice) {
    const piece = choice.delta && typeof choice.delta.content === "string" ? choice.delta.content : "";
    next.content = reply.content + piece;
    if (choice.finish_reason) next.finishReason = choice.finish_reason;
  }
  if (Array.isArray(chunk.citations)) next.citations = chunk.citations;
  if (chunk.usage) next.usage = chunk.usage;
  if ("cost_usd" in chunk) next.cost = chunk.cost_usd;
  if (chunk.guards) next.guards = chunk.guards;
  return next;
}

/**
 * A rag/ reply's text without the "Sources:" block the server appends (the page lists the citations
 * itself). The text is kept whole when there are no citations, so nothing the model wrote is hidden.
 */
export function splitSources(text, citations) {
  const mark = "\n\nSources:\n";
  const at = text.lastIndexOf(mark);
  if (!citations || !citations.length || at < 0) return { body: text, sources: "" };
  return { body: text.slice(0, at), sources: text.slice(at + mark.length) };
}

/** What to show for a citation: its source and where in it (page, heading, or the character span). */
export function citationLabel(c) {
  const where = [];
  if (c.page !== null && c.page !== undefined) where.push(`page ${c.page}`);
  if (c.heading) where.push(c.heading);
  if (!where.length && c.location) where.push(c.location);
  return { title: String(c.source || c.doc_id || "unknown source"), where: where.join(" · ") };
}

const FALLBACK = {
  400: "the server refused the request",
  401: "this server needs an API key",
  403: "this key is not allowed to do that",
  404: "not found",
  413: "too large for the server",
  415: "unsupported file type",
  422: "the request did not match what the server expects",
  429: "too many requests",
  499: "the request was cancelled",
  500: "the server failed",
  503: "the server is busy or a backend is down",
};

/**
 * One line for a failed request: the status, the error body's own message (OpenAI's shape,
 * `{"error": {"message"}}`) or a plain fallback, and when to retry if the server said (Retry-After).
 */
export function errorMessage(status, body, retryAfter) {
  let message = body && body.error && typeof body.error.message === "string" ? body.error.message : "";
  if (!message && body && typeof body.detail === "string") message = body.detail;
  if (!message) message = FALLBACK[status] || (status >= 500 ? FALLBACK[500] : "the request failed");
  let line = status ? `${status}: ${message}` : message;
  const seconds = Number.parseInt(retryAfter, 10);
  if (Number.isFinite(seconds) && seconds >= 0) line += ` (retry in ${seconds} s)`;
  return line;
}

/** The model ids of /v1/models, grouped for the picker: rag/<collection>, agent/…, and plain chat. */
export function groupModels(ids) {
  const groups = { rag: [], agent: [], chat: [] };
  for (const id of ids) {
    if (id.startsWith("rag/")) groups.rag.push(id);
    else if (id.startsWith("agent/")) groups.agent.push(id);
    else groups.chat.push(id);
  }
  return groups;
}

/** The model to select: the one chosen before if it is still served, else the first rag/ model, else chat. */
export function defaultModel(ids, previous) {
  if (previous && ids.includes(previous)) return previous;
  const groups = groupModels(ids);
  return groups.rag[0] || groups.chat[0] || ids[0] || "";
}

/** The chat request body for a conversation and the optional settings (blank settings are left out). */
export function chatBody(model, messages, settings = {}) {
  const body = { model, messages, stream: true, stream_options: { include_usage: true } };
  const maxTokens = Number.parseInt(settings.maxTokens, 10);
  if (Number.isFinite(maxTokens) && maxTokens > 0) body.max_tokens = maxTokens;
  const temperature = Number.parseFloat(settings.temperature);
  if (Number.isFinite(temperature) && temperature >= 0) body.temperature = temperature;
  return body;
}

/** Cost in USD; unknown usage is shown as unknown, never as zero (DESIGN: exact accounting). */
export function formatCost(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "cost unknown";
  if (value === 0) return "$0";
  return value < 0.01 ? `$${value.toPrecision(2)}` : `$${value.toFixed(4)}`;
}

export function formatMs(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** A Unix time (seconds) as local "YYYY-MM-DD HH:MM:SS". */
export function formatTime(seconds) {
  if (!Number.isFinite(seconds)) return "–";
  const d = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "in / out tokens" with unknown counts as "?". */
export function formatTokens(promptTokens, completionTokens) {
  const show = (n) => (Number.isFinite(n) ? String(n) : "?");
  return `${show(promptTokens)} in / ${show(completionTokens)} out`;
}

/** An eval run's summary ({metric: {mean, low, high, n}}) as rows; a metric no item scored has null mean. */
export function metricRows(summary) {
  return Object.entries(summary || {}).map(([name, s]) => {
    const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(3) : "–");
    return { name, mean: num(s.mean), interval: `[${num(s.low)}, ${num(s.high)}]`, n: Number.isFinite(s.n) ? s.n : 0 };
  });
}

/** A path segment, percent-encoded (collection names and ids are restricted by the server, but never trusted). */
export function seg(value) {
  return encodeURIComponent(String(value));
}

/** A collection name the server accepts (the same pattern as the routes). */
export function validCollectionName(name) {
  return /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name);
}
