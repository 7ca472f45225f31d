// Building DOM nodes without HTML strings: every text goes in as a text node, so model output, document
// text, names and error messages can never become markup (no HTML parsing anywhere in the page).

/**
 * h("a", {class: "x", href: "#y", onclick: fn}, "text", child) -> an element.
 * Attributes go through setAttribute; "on*" keys add listeners; children may be strings, nodes,
 * arrays, or null/undefined/false (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Remove every child of `el`. */
export function clear(el) {
  el.replaceChildren();
}

/** Show `text` in a status line; `kind` "error" styles it as one (and the line is a live region). */
export function say(el, text, kind = "") {
  el.textContent = text || "";
  el.className = `status ${kind}`.trim();
}

export const $ = (id) => document.getElementById(id);
