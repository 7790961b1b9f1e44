/* koodispatch console: what every page shares. Messages come from the page's catalogue (data-messages),
   API calls carry the session cookie and, for changes, the session's CSRF token (data-csrf). */
"use strict";

const KD = (() => {
  const page = document.body.dataset;
  const messages = JSON.parse(page.messages);
  const locale = messages["html.lang"];

  /** A message of the catalogue, {name} placeholders filled from vars. */
  function t(key, vars) {
    let text = key in messages ? messages[key] : key;
    for (const [name, value] of Object.entries(vars || {})) text = text.replaceAll(`{${name}}`, value);
    return text;
  }

  /** An element with attributes (a "class" string, "data-*", properties for the rest) and children. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class" || name.startsWith("data-") || name.startsWith("aria-")) node.setAttribute(name, value);
      else node[name] = value;
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  class ApiError extends Error {
    constructor(status, problem) {
      const detail = problem && typeof problem === "object"
        ? [problem.detail, ...(problem.errors || []).map((e) => `${e.loc}: ${e.msg}`)].filter(Boolean).join("; ")
        : String(problem || "");
      super(status === 403 ? `${t("error.forbidden")} ${detail}` : `${t("error.failed")} (${status}) ${detail}`);
      this.status = status;
    }
  }

  /** Call /api/v1<path>; JSON or FormData body; the answer's JSON (or text). Throws ApiError. */
  async function api(method, path, body, headers) {
    const sent = { Accept: "application/json", ...(headers || {}) };
    if (method !== "GET") sent["X-CSRF-Token"] = page.csrf;
    let payload = body;
    if (body !== undefined && !(body instanceof FormData)) {
      sent["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const answer = await fetch(`/api/v1${path}`, { method, headers: sent, body: payload, credentials: "same-origin" });
    if (answer.status === 401 && page.page !== "login") {
      location.assign(`/console/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    }
    const type = answer.headers.get("Content-Type") || "";
    const data = answer.status === 204 ? null : type.includes("json") ? await answer.json() : await answer.text();
    if (!answer.ok) throw new ApiError(answer.status, data);
    return data;
  }

  /** Show a message at the top of the page ("ok" or "error"); empty text hides it. */
  function notice(text, kind) {
    const box = document.getElementById("notice");
    box.textContent = text;
    box.className = `notice ${kind || "ok"}`;
    box.hidden = !text;
  }

  function failed(error) {
    notice(error.message, "error");
  }

  /** Run an action after the user confirmed it; its outcome goes to the notice. */
  async function confirmed(question, action, done) {
    if (!window.confirm(question)) return;
    try {
      await action();
      if (done) notice(done, "ok");
    } catch (error) {
      failed(error);
    }
  }

  const formats = new Map();
  /** Seconds since 1970 as a date and time in the IANA zone (the campaign's), or the browser's. */
  function time(seconds, zone) {
    if (seconds === null || seconds === undefined) return "–";
    const key = zone || "";
    if (!formats.has(key)) {
      formats.set(key, new Intl.DateTimeFormat(locale, {
        timeZone: zone || undefined, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
      }));
    }
    return formats.get(key).format(new Date(seconds * 1000));
  }

  /** An ISO 8601 time already in the campaign's zone (the report's), shown as it is. */
  function isoTime(text) {
    return text ? text.slice(0, 19).replace("T", " ") : "–";
  }

  function num(value) {
    return value === null || value === undefined ? "–" : Number(value).toLocaleString(locale);
  }

  /** Live events of /api/v1<path>: handlers by event name, each given the event's data. */
  function watch(path, handlers) {
    const source = new EventSource(`/api/v1${path}`);
    for (const [kind, handle] of Object.entries(handlers)) {
      source.addEventListener(kind, (event) => handle(JSON.parse(event.data)));
    }
    return source;
  }

  /** Numbers done of a campaign row (sent or failed) against those to send. */
  function done(row) {
    return Math.min(row.sent + row.failed, row.accepted);
  }

  function bar(value, max) {
    return el("progress", { max: Math.max(max, 1), value: Math.min(value, Math.max(max, 1)) });
  }

  const logout = document.getElementById("logout");
  if (logout) {
    logout.addEventListener("click", async () => {
      try {
        await api("DELETE", "/session");
      } finally {
        location.assign("/console/login");
      }
    });
  }

  return { t, el, api, notice, failed, confirmed, time, isoTime, num, watch, done, bar, page };
})();
