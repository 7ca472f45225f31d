// The page's entry point: tabs (one panel at a time, chosen by the URL's #hash), the API key dialog,
// and loading each panel's data when it is first shown.
import { AUTH_EVENT, apiKey } from "./api.js";
import { initChat, loadModels } from "./chat.js";
import { initCollections, loadCollections } from "./collections.js";
import { $ } from "./dom.js";
import { initEvals, loadEvals } from "./evals.js";
import { initTraces, loadTraces } from "./traces.js";

const PANELS = {
  chat: loadModels,
  collections: loadCollections,
  traces: () => loadTraces(),
  evals: loadEvals,
};
const loaded = new Set();
let current = "chat";

/** The panel the URL names (#chat, #collections, …), or null for any other hash (the skip link's #main). */
function panelInHash() {
  const name = location.hash.slice(1);
  return Object.hasOwn(PANELS, name) ? name : null;
}

function showPanel(name, { focus = false } = {}) {
  current = name;
  for (const panel of Object.keys(PANELS)) {
    const tab = $(`tab-${panel}`);
    const selected = panel === name;
    $(panel).hidden = !selected;
    tab.setAttribute("aria-selected", String(selected));
    // Roving tabindex: Tab reaches the selected tab only; arrow keys move between tabs.
    tab.tabIndex = selected ? 0 : -1;
    if (selected && focus) tab.focus();
  }
  if (!loaded.has(name)) {
    loaded.add(name);
    PANELS[name]();
  }
}

function initTabs() {
  const names = Object.keys(PANELS);
  $("tabs").addEventListener("keydown", (e) => {
    const at = names.indexOf(current);
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
    let next = step === undefined ? null : names[(at + step + names.length) % names.length];
    if (e.key === "Home") next = names[0];
    if (e.key === "End") next = names[names.length - 1];
    if (next) {
      e.preventDefault();
      history.replaceState(null, "", `#${next}`);
      showPanel(next, { focus: true });
    }
  });
  window.addEventListener("hashchange", () => {
    const name = panelInHash();
    if (name) showPanel(name);
  });
}

/** After a key changes, everything shown may differ (models, collections a key may see): load again. */
function reloadAll() {
  loaded.clear();
  showPanel(current);
}

function initKeyDialog() {
  const dialog = $("key-dialog");
  const input = $("key-input");
  const open = (reason) => {
    $("key-reason").textContent = reason || "Enter an API key for this server.";
    input.value = "";
    if (!dialog.open) dialog.showModal();
    input.focus();
  };
  $("key-button").addEventListener("click", () => open(apiKey.get() ? "A key is set for this tab." : ""));
  window.addEventListener(AUTH_EVENT, (e) => open(`${e.detail}. Enter an API key for this server.`));
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const key = input.value.trim();
    if (!key) {
      input.focus();
      return;
    }
    apiKey.set(key);
    input.value = "";
    dialog.close();
    updateKeyButton();
    reloadAll();
  });
  $("key-forget").addEventListener("click", () => {
    apiKey.clear();
    dialog.close();
    updateKeyButton();
    reloadAll();
  });
  $("key-cancel").addEventListener("click", () => dialog.close());
  updateKeyButton();
}

function updateKeyButton() {
  $("key-button").textContent = apiKey.get() ? "API key ✓" : "API key";
}

initKeyDialog();
initTabs();
initChat();
initCollections(() => {
  loadModels(); // a new or deleted collection adds or removes a rag/ model
});
initTraces();
initEvals();
showPanel(panelInHash() || "chat");
