// The dashboard's one way to the REST API: the workspace key from session storage, JSON errors
// turned into Error objects carrying the API's message, pt-BR/en number formatting, and the
// Server-Sent Events of a campaign read over fetch (EventSource cannot send X-API-Key).
"use strict";
const KEY = "irisgate.apiKey";
const Api = {
  key() { return sessionStorage.getItem(KEY); },
  setKey(k) { sessionStorage.setItem(KEY, k); },
  clear() { sessionStorage.removeItem(KEY); },
  async call(method, path, body, contentType) {
    const headers = { "X-API-Key": Api.key() || "" };
    let payload;
    if (body !== undefined) {
      headers["Content-Type"] = contentType || "application/json";
      payload = contentType ? body : JSON.stringify(body);
    }
    const r = await fetch("/api/v1" + path, { method, headers, body: payload });
    const text = await r.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
    if (!r.ok) {
      const e = new Error((json && json.message) || ("HTTP " + r.status));
      e.status = r.status;
      if (r.status === 401 && path !== "/campaigns?limit=1") { Api.clear(); location.hash = "#/login"; }
      throw e;
    }
    return json;
  },
  get(path) { return Api.call("GET", path); },
  post(path, body) { return Api.call("POST", path, body === undefined ? {} : body); },
  // Reads `progress` and `status` events until `signal` aborts.
  async events(id, onEvent, signal) {
    const r = await fetch("/api/v1/campaigns/" + encodeURIComponent(id) + "/events",
      { headers: { "X-API-Key": Api.key() || "" }, signal });
    if (!r.ok || !r.body) throw new Error("events: HTTP " + r.status);
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trimStart();
        }
        if (event) onEvent(event, JSON.parse(data));
      }
    }
  },
};
// pt-BR when the browser's language says so, else the browser's own locale.
const LOCALE = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
const NUM = new Intl.NumberFormat(LOCALE);
const PCT = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 1 });
const fmt = {
  n(x) { return NUM.format(x || 0); },
  pct(part, whole) { return whole ? PCT.format((100 * part) / whole) + " %" : "—"; },
  time(iso) { return iso ? new Date(iso).toLocaleString(LOCALE) : "—"; },
};
// Builds an element: h("td", {dataset: {label: "x"}}, "text", child…).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}
