// The collections panel: collections with their counts, a collection's documents, upload, delete.
import { request } from "./api.js";
import { $, clear, h, say } from "./dom.js";
import { formatTime, seg, validCollectionName } from "./lib.js";

let shown = ""; // the collection whose documents are listed
let onChange = () => {}; // told when collections change (the chat's rag/ models follow them)

export function initCollections(changed) {
  onChange = changed;
  $("collections-refresh").addEventListener("click", loadCollections);
  $("upload-form").addEventListener("submit", (e) => {
    e.preventDefault();
    upload();
  });
}

export async function loadCollections() {
  const status = $("collections-status");
  const body = $("collections-table").tBodies[0];
  say(status, "Loading…");
  try {
    const { data } = await request("GET", "/v1/collections");
    clear(body);
    for (const c of data) body.append(collectionRow(c));
    say(status, data.length ? "" : "No collections yet: upload documents below to make one.");
    if (shown && !data.some((c) => c.name === shown)) hideDocuments();
  } catch (e) {
    say(status, e.message, "error");
  }
}

function collectionRow(c) {
  const open = h("button", { type: "button", class: "link", onclick: () => loadDocuments(c.name) }, c.name);
  const remove = h(
    "button",
    { type: "button", class: "danger small", "aria-label": `Delete collection ${c.name}`, onclick: () => deleteCollection(c.name) },
    "Delete",
  );
  return h("tr", {}, h("th", { scope: "row" }, open), h("td", { class: "num" }, c.documents), h("td", { class: "num" }, c.chunks),
    h("td", {}, `${c.embedder} (${c.dim})`), h("td", {}, remove));
}

async function loadDocuments(name) {
  shown = name;
  $("documents").hidden = false;
  $("documents-title").textContent = `Documents in ${name}`;
  $("upload-collection").value = name;
  const status = $("documents-status");
  const body = $("documents-table").tBodies[0];
  clear(body);
  say(status, "Loading…");
  try {
    const { data } = await request("GET", `/v1/collections/${seg(name)}/documents?limit=1000`);
    for (const d of data) body.append(documentRow(name, d));
    say(status, data.length ? `${data.length} document${data.length === 1 ? "" : "s"}` : "No documents.");
    $("documents-title").focus({ preventScroll: false });
  } catch (e) {
    say(status, e.message, "error");
  }
}

function hideDocuments() {
  shown = "";
  $("documents").hidden = true;
}

function documentRow(collection, d) {
  const title = d.title && d.title !== d.source ? [h("span", {}, d.title), h("br"), h("small", {}, d.source)] : d.source;
  const remove = h(
    "button",
    { type: "button", class: "danger small", "aria-label": `Delete document ${d.source}`, onclick: () => deleteDocument(collection, d) },
    "Delete",
  );
  return h("tr", {}, h("td", {}, title), h("td", {}, d.content_type), h("td", { class: "num" }, d.chunk_count),
    h("td", {}, d.updated_at ? formatTime(d.updated_at) : "–"), h("td", {}, remove));
}

async function deleteCollection(name) {
  if (!window.confirm(`Delete the collection “${name}” and every document in it? This cannot be undone.`)) return;
  const status = $("collections-status");
  try {
    await request("DELETE", `/v1/collections/${seg(name)}`);
    say(status, `Deleted ${name}.`);
    if (shown === name) hideDocuments();
    await loadCollections();
    onChange();
  } catch (e) {
    say(status, e.message, "error");
  }
}

async function deleteDocument(collection, d) {
  if (!window.confirm(`Delete “${d.source}” from ${collection}?`)) return;
  const status = $("documents-status");
  try {
    await request("DELETE", `/v1/collections/${seg(collection)}/documents/${seg(d.id)}`);
    await loadDocuments(collection);
    say(status, `Deleted ${d.source}.`);
    await loadCollections();
  } catch (e) {
    say(status, e.message, "error");
  }
}

async function upload() {
  const status = $("upload-status");
  const name = $("upload-collection").value.trim();
  const files = $("upload-files").files;
  if (!validCollectionName(name)) {
    say(status, "A collection name is letters, digits, _ . - (up to 64), starting with a letter or digit.", "error");
    return;
  }
  if (!files.length) {
    say(status, "Choose one or more files.", "error");
    return;
  }
  const form = new FormData();
  for (const f of files) form.append("files", f, f.name);
  const button = $("upload-form").querySelector("button[type=submit]");
  button.disabled = true;
  say(status, `Uploading and ingesting ${files.length} file${files.length === 1 ? "" : "s"}…`);
  try {
    const report = await request("POST", `/v1/collections/${seg(name)}/documents`, { form });
    const failed = (report.failed || []).map(([source, reason]) => `${source}: ${reason}`);
    const summary = `Added ${report.added}, updated ${report.updated}, unchanged ${report.skipped}, ${report.chunks} chunks.`;
    say(status, failed.length ? `${summary} Failed: ${failed.join("; ")}` : summary, failed.length ? "error" : "");
    $("upload-files").value = "";
    await loadCollections();
    await loadDocuments(name);
    onChange();
  } catch (e) {
    say(status, e.message, "error");
  } finally {
    button.disabled = false;
  }
}
