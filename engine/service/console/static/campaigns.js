/* The campaign list: filters and pages from the API, running campaigns kept live by the list's events. */
"use strict";

(() => {
  const { t, el, api, num, time, watch, done, bar, failed } = KD;
  const LIMIT = 20;
  const form = document.getElementById("filters");
  const body = document.querySelector("#campaigns tbody");
  const prev = document.getElementById("prev");
  const next = document.getElementById("next");
  const rows = new Map(); // cid -> its <tr>, replaced on every change
  let offset = 0;
  let reload = null;

  function query() {
    const params = new URLSearchParams({ limit: LIMIT, offset });
    for (const [name, value] of new FormData(form)) {
      if (!value) continue;
      params.set(name, name === "since" || name === "until" ? new Date(value).toISOString() : value);
    }
    return params;
  }

  function filtered() {
    return [...new FormData(form).values()].some(Boolean);
  }

  function row(c, rate) {
    const running = c.state === "running";
    const share = c.accepted ? Math.round((100 * done(c)) / c.accepted) : 0;
    return el("tr", { "data-cid": c.cid, "data-state": c.state },
      el("td", {}, el("a", { href: `/console/campaigns/${encodeURIComponent(c.cid)}` }, c.name || c.cid),
        el("div", { class: "hint" }, [c.cid, c.template_id, c.signature].filter(Boolean).join(" · "))),
      el("td", {}, t(`class.${c.priority}`)),
      el("td", {}, el("span", { class: `badge ${c.state}`, title: c.reason }, t(`state.${c.state}`))),
      el("td", { class: "progress" }, bar(done(c), c.accepted), ` ${share}%`),
      el("td", { class: "num rate" }, running && rate !== undefined ? `${num(rate)}/s` : "–"),
      el("td", { class: "num" }, num(c.accepted)),
      el("td", { class: "num sent" }, num(c.sent)),
      el("td", { class: "num" }, num(c.failed)),
      el("td", {}, time(c.created_at)));
  }

  async function load() {
    try {
      const found = await api("GET", `/campaigns?${query()}`);
      rows.clear();
      body.replaceChildren(...found.items.map((c) => {
        const tr = row(c);
        rows.set(c.cid, tr);
        return tr;
      }));
      document.getElementById("empty").hidden = found.items.length > 0;
      prev.disabled = offset === 0;
      next.disabled = found.next_offset === null;
      document.getElementById("page-no").textContent = t("list.page", { n: offset / LIMIT + 1 });
    } catch (error) {
      failed(error);
    }
  }

  function changed(data) {
    const c = data.campaign;
    const old = rows.get(c.cid);
    if (old) {
      const tr = row(c, data.rate);
      old.replaceWith(tr);
      rows.set(c.cid, tr);
    } else if (offset === 0 && !filtered() && reload === null) {
      reload = setTimeout(() => { reload = null; load(); }, 500); // a new campaign: the first page moved
    }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); offset = 0; load(); });
  form.addEventListener("reset", () => setTimeout(() => { offset = 0; load(); }));
  prev.addEventListener("click", () => { offset = Math.max(0, offset - LIMIT); load(); });
  next.addEventListener("click", () => { offset += LIMIT; load(); });
  load().then(() => watch("/events", { progress: changed }));
})();
