// The traces panel: recent model calls, newest first, each opening to the prompt as sent and the output.
import { request } from "./api.js";
import { $, clear, h, say } from "./dom.js";
import { formatCost, formatMs, formatTime, formatTokens } from "./lib.js";

const PAGE = 25;
let offset = 0;

export function initTraces() {
  $("traces-refresh").addEventListener("click", () => loadTraces());
  $("traces-more").addEventListener("click", () => loadTraces(offset));
}

/** Load a page of traces; from 0 (the newest) replaces the list, a later offset appends older ones. */
export async function loadTraces(from = 0) {
  const status = $("traces-status");
  const list = $("traces-list");
  say(status, "Loading…");
  try {
    const { data } = await request("GET", `/v1/traces?limit=${PAGE}&offset=${from}`);
    if (from === 0) clear(list);
    for (const t of data) list.append(traceItem(t));
    offset = from + data.length;
    $("traces-more").hidden = data.length < PAGE;
    say(status, offset ? "" : "No model calls traced yet.");
  } catch (e) {
    say(status, e.message, "error");
  }
}

function traceItem(t) {
  const attrs = t.attributes || {};
  const summary = h(
    "summary",
    {},
    h("span", { class: "when" }, formatTime(t.created)),
    h("span", { class: "tag" }, t.kind || "call"),
    h("span", { class: "model" }, t.model),
    h("span", { class: "figures" },
      `${formatTokens(t.prompt_tokens, t.completion_tokens)} · ${formatMs(t.latency_ms)} · ${formatCost(attrs.cost_usd)}`),
    t.error ? h("span", { class: "tag bad" }, "error") : null,
  );
  const messages = (t.messages || []).map((m) =>
    h("li", { class: `turn ${m.role}` }, h("p", { class: "who" }, m.role), h("pre", {}, contentText(m.content))),
  );
  return h(
    "li",
    {},
    h(
      "details",
      { class: "record" },
      summary,
      h("h3", {}, "Prompt as sent"),
      h("ol", { class: "turns" }, messages),
      h("h3", {}, "Output"),
      h("pre", {}, t.output || "(none)"),
      t.error ? [h("h3", {}, "Error"), h("pre", { class: "error" }, t.error)] : null,
      h("h3", {}, "Details"),
      h("dl", { class: "facts" },
        fact("id", t.id),
        fact("finish", t.finish_reason || "–"),
        fact("time to first token", formatMs(t.ttft_ms)),
        fact("params", JSON.stringify(t.params || {})),
        fact("attributes", JSON.stringify(attrs))),
    ),
  );
}

function fact(term, value) {
  return [h("dt", {}, term), h("dd", {}, value)];
}

/** A message's content as text: a string, or OpenAI-style parts (text parts joined, others named). */
function contentText(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (p && p.type === "text" ? p.text : `[${p && p.type}]`)).join("\n");
  return JSON.stringify(content);
}
