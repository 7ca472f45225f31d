// Calls to the server's /v1 routes: the key as a Bearer header, errors as ApiError with the server's message.
import { errorMessage } from "./lib.js";

const KEY = "llmkit.apiKey";

/**
 * The API key lives in sessionStorage: it survives a reload but not closing the tab, is never put in
 * a URL, and the server stores nothing about the page's session.
 */
export const apiKey = {
  get: () => sessionStorage.getItem(KEY) || "",
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Fired on a 401 so the page can ask for a key, whichever panel made the call. */
export const AUTH_EVENT = "llmkit:auth-required";

/**
 * `request("GET", "/v1/models")` -> the JSON body; throws ApiError on a non-2xx reply.
 * Options: json (a body to send as JSON), form (FormData), signal (AbortSignal), raw (return the Response,
 * for streams and the HTML report).
 */
export async function request(method, path, { json, form, signal, raw = false } = {}) {
  const headers = { Accept: raw ? "*/*" : "application/json" };
  const key = apiKey.get();
  if (key) headers.Authorization = `Bearer ${key}`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form; // the browser sets the multipart boundary
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body, signal, cache: "no-store", credentials: "same-origin" });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, "cannot reach the server (is `llmkit serve` running?)", "network");
  }
  if (!response.ok) throw await errorOf(response);
  return raw ? response : response.json();
}

/** The ApiError for a failed response, with its body's message and Retry-After. */
export async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON (a proxy's page, say): the status alone
  }
  const error = new ApiError(
    response.status,
    errorMessage(response.status, body, response.headers.get("Retry-After")),
    body && body.error ? body.error.code : undefined,
  );
  if (response.status === 401) window.dispatchEvent(new CustomEvent(AUTH_EVENT, { detail: error.message }));
  return error;
}
