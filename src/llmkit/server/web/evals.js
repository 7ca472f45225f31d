// The evals panel: eval runs with each metric's mean and interval, and each run's HTML report.
import { request } from "./api.js";
import { $, clear, h, say } from "./dom.js";
import { formatTime, metricRows, seg } from "./lib.js";

export function initEvals() {
  $("evals-refresh").addEventListener("click", loadEvals);
}

export async function loadEvals() {
  const status = $("evals-status");
  const list = $("evals-list");
  say(status, "Loading…");
  try {
    const { data } = await request("GET", "/v1/evals?limit=50");
    clear(list);
    for (const run of data) list.append(runItem(run));
    say(status, data.length ? "" : "No eval runs yet: `llmkit eval run SUITE.yaml` makes one.");
  } catch (e) {
    say(status, e.message, "error");
  }
}

function runItem(run) {
  const rows = metricRows(run.summary).map((m) =>
    h("tr", {}, h("th", { scope: "row" }, m.name), h("td", { class: "num" }, m.mean), h("td", { class: "num" }, m.interval),
      h("td", { class: "num" }, m.n)),
  );
  const models = Object.entries(run.models || {}).map(([role, id]) => `${role}: ${id}`).join(", ");
  const prompts = Object.entries(run.prompts || {}).map(([role, ref]) => `${role}: ${ref}`).join(", ");
  const reportStatus = h("span", { class: "status", role: "status" });
  const report = h("button", { type: "button", class: "secondary small", onclick: () => download(run, reportStatus) },
    "Download HTML report");
  return h(
    "li",
    { class: "card" },
    h("h3", {}, `${run.name} `, h("small", {}, run.id)),
    h("p", { class: "meta" }, `${formatTime(run.created)} · ${run.items} items · ${run.dataset}`),
    models ? h("p", { class: "meta" }, `models: ${models}`) : null,
    prompts ? h("p", { class: "meta" }, `prompts: ${prompts}`) : null,
    h("div", { class: "table-wrap" },
      h("table", {},
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "metric"), h("th", { scope: "col" }, "mean"),
          h("th", { scope: "col" }, "95 % interval"), h("th", { scope: "col" }, "n"))),
        h("tbody", {}, rows))),
    h("p", {}, report, " ", reportStatus),
  );
}

/**
 * The report route needs the key, which a plain link cannot send: fetch it with the Bearer header and
 * save it as a file. (Opening it in a tab from a blob: URL would give it this page's origin.)
 */
async function download(run, status) {
  say(status, "Fetching…");
  try {
    const response = await request("GET", `/v1/evals/${seg(run.id)}/report`, { raw: true });
    const url = URL.createObjectURL(await response.blob());
    const a = h("a", { href: url, download: `eval-${run.id}.html`, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    say(status, "Saved.");
  } catch (e) {
    say(status, e.message, "error");
  }
}
