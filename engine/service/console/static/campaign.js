/* One campaign: progress per stage and the send rate live from its events; counts, funnel, failure
   reasons and audit trail from its report; controls each behind a confirmation. */
"use strict";

(() => {
  const { t, el, api, num, time, isoTime, watch, bar, confirmed, failed, page } = KD;
  const cid = page.cid;
  const base = `/campaigns/${encodeURIComponent(cid)}`;
  const CHART_SECONDS = 120;
  const SMOOTH = 3; // seconds averaged per point of the rate chart
  const ENDED = new Set(["completed", "cancelled", "failed"]);
  const COUNTS = ["rows", "imported", "invalid", "duplicates", "suppressed", "accepted", "capable", "not_capable",
    "sent.smart", "sent.sms", "sent.basic", "skipped", "failed", "unsent"];
  const STEPS = ["submitted", "accepted", "delivered", "undelivered", "awaiting", "failed"];
  const sentBy = new Map(); // second -> the campaign's numbers sent by the end of it
  let firstSecond = null;
  let zone = "Asia/Shanghai";
  let state = "";
  let reason = "";
  let name = cid;

  const text = (id, value) => { document.getElementById(id).textContent = value; };

  function showRow(c) {
    name = c.name || cid;
    state = c.state;
    reason = c.reason;
    text("c-name", name);
    text("c-class", t(`class.${c.priority}`));
    const badge = document.getElementById("c-state");
    badge.textContent = t(`state.${c.state}`) + (c.reason ? ` · ${c.reason}` : "");
    badge.className = `badge ${c.state}`;
    document.body.dataset.state = c.state;
    const controls = document.getElementById("controls");
    if (!controls) return;
    const open = !ENDED.has(state);
    const trial = state === "paused" && reason.includes("trial"); // engine/state/trial.py: SENDING, SENT
    const enable = {
      pause: state === "running" || state === "scheduled",
      resume: state === "paused" && !trial,
      "confirm-trial": trial && reason.startsWith("trial sent"),
      cancel: open,
    };
    for (const button of controls.querySelectorAll("button[data-action]")) {
      button.disabled = !enable[button.dataset.action];
    }
    for (const form of controls.querySelectorAll("form")) {
      for (const field of form.elements) field.disabled = !open;
    }
  }

  function showStages(c, stages) {
    const sent = stages["sent:smart"] + stages["sent:sms"] + stages["sent:basic"];
    const resolved = stages.capable + stages.not_capable;
    const fallback = stages["sent:sms"] + stages["sent:basic"] + stages.skipped;
    const lines = [
      ["stage.resolved", resolved, c.accepted],
      ["stage.smart", stages["sent:smart"], stages.capable],
      ["stage.fallback", fallback, stages.not_capable],
      ["stage.done", sent + stages.skipped + stages.failed, c.accepted],
    ];
    document.getElementById("stages").replaceChildren(...lines.map(([key, value, max]) =>
      el("div", { class: "stage", "data-stage": key },
        el("span", { class: "label" }, t(key)), bar(value, max),
        el("span", { class: "num" }, `${num(value)} / ${num(max)}`))));
  }

  /** Numbers sent per second, from the campaign's running total at each event: averaged over the last
      SMOOTH seconds, as the provider takes numbers in chunks of hundreds (one second holds two, the next none). */
  function pushSent(total) {
    const second = Math.floor(Date.now() / 1000);
    if (firstSecond === null) firstSecond = second;
    sentBy.set(second, total);
    for (const key of sentBy.keys()) if (key < second - CHART_SECONDS - SMOOTH) sentBy.delete(key);
    const rates = [];
    for (let s = Math.max(firstSecond + 1, second - CHART_SECONDS); s < second; s += 1) {
      const from = [SMOOTH, 2, 1].map((back) => s - back).find((k) => k >= firstSecond && sentBy.has(k));
      if (sentBy.has(s) && from !== undefined) rates.push([s, Math.max(0, (sentBy.get(s) - sentBy.get(from)) / (s - from))]);
    }
    const last = rates.length ? rates[rates.length - 1][1] : 0;
    text("rate-now", `${num(Math.round(last))} ${t("detail.per_second")}`);
    drawChart(rates, second);
  }

  function drawChart(rates, now) {
    const svg = document.getElementById("chart");
    const [width, height] = [600, 160];
    const span = Math.min(CHART_SECONDS, Math.max(30, now - firstSecond)); // fills the width from the start
    const peak = Math.max(1, ...rates.map(([, rate]) => rate));
    const points = rates.map(([second, rate]) =>
      `${(((second - now + span) / span) * width).toFixed(1)},${(height - 4 - (rate / peak) * (height - 20)).toFixed(1)}`);
    const ns = "http://www.w3.org/2000/svg";
    const shape = (tag, attrs) => {
      const node = document.createElementNS(ns, tag);
      for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
      return node;
    };
    const label = shape("text", { x: 4, y: 12 });
    label.textContent = `${num(Math.round(peak))} ${t("detail.per_second")}`;
    svg.replaceChildren(shape("line", { x1: 0, y1: 16, x2: width, y2: 16, class: "peak" }),
      shape("polyline", { points: points.join(" "), class: "line" }), label);
    svg.dataset.points = String(points.length);
  }

  function table(id, rows) {
    document.querySelector(`#${id} tbody`).replaceChildren(...rows.map(([label, value]) =>
      el("tr", {}, el("th", {}, label), el("td", { class: "num" }, num(value)))));
  }

  function showReport(r) {
    text("c-zone", r.timing.timezone);
    text("c-submitted", isoTime(r.timing.submitted_at));
    text("c-first", isoTime(r.timing.first_sent_at));
    text("c-ended", isoTime(r.timing.ended_at));
    table("counts", COUNTS.map((key) => {
      const [field, channel] = key.split(".");
      return [t(`count.${key}`), channel ? (r[field][channel] || 0) : r[field]];
    }));
    const channels = Object.keys(r.funnel);
    const funnel = document.getElementById("funnel");
    funnel.tHead.replaceChildren(el("tr", {}, el("th", {}), channels.map((ch) => el("th", { class: "num" }, t(`channel.${ch}`)))));
    funnel.tBodies[0].replaceChildren(...STEPS.map((step) => el("tr", {}, el("th", {}, t(`funnel.${step}`)),
      channels.map((ch) => el("td", { class: "num" }, num(r.funnel[ch][step]))))));
    const reasons = Object.entries(r.failed_by_reason).sort((a, b) => b[1] - a[1]);
    table("reasons", reasons.length ? reasons : [[t("detail.no_failures"), 0]]);
  }

  async function loadReport() {
    try {
      showReport(await api("GET", `${base}/report`));
    } catch (error) {
      failed(error);
    }
  }

  async function loadAudit() {
    const entries = await api("GET", `${base}/audit?limit=50`);
    document.querySelector("#audit tbody").replaceChildren(...entries.map((e) => el("tr", {},
      el("td", {}, time(e.at, zone)), el("td", {}, `${e.who} (${t(`role.${e.role}`)})`),
      el("td", {}, t(`action.${e.action}`)), el("td", {}, e.remote),
      el("td", { class: "detail" }, JSON.stringify(e.detail)))));
  }

  function refresh() {
    loadReport();
    loadAudit().catch(failed);
  }

  function control(path, method, body, verb) {
    const question = t("confirm.action", { action: t(`action.${verb}`), name });
    return confirmed(question, async () => {
      await api(method, `${base}${path}`, body);
      refresh();
    }, t("done.action", { action: t(`action.${verb}`) }));
  }

  function showCaps(caps) {
    const shown = Object.entries(caps).map(([ch, rate]) => `${t(`channel.${ch}`)} ${num(rate)}`);
    const box = document.getElementById("caps");
    if (box) box.textContent = shown.length ? `${t("detail.caps")}: ${shown.join(", ")}` : "";
  }

  const controls = document.getElementById("controls");
  if (controls) {
    for (const button of controls.querySelectorAll("button[data-action]")) {
      const verb = button.dataset.action;
      button.addEventListener("click", () => control(`/${verb}`, "POST", undefined, verb));
    }
    document.getElementById("priority-form").addEventListener("submit", (event) => {
      event.preventDefault();
      control("/priority", "PUT", { priority: event.target.elements.priority.value }, "priority");
    });
    document.getElementById("rate-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const f = event.target.elements;
      const question = t("confirm.action", { action: t("action.campaign-rates"), name });
      confirmed(question, async () => {
        const answer = await api("PUT", `${base}/rates`, { rates: { [f.channel.value]: Number(f.rate.value) } });
        showCaps(answer.caps);
        refresh();
      }, t("done.action", { action: t("action.campaign-rates") }));
    });
  }

  async function start() {
    try {
      const detail = await api("GET", base);
      zone = (detail.spec.schedule && detail.spec.schedule.timezone) || zone;
      showRow(detail.campaign);
      showCaps(detail.caps);
      const priority = document.querySelector("#priority-form select");
      if (priority) priority.value = detail.campaign.priority;
    } catch (error) {
      failed(error);
      return;
    }
    refresh();
    watch(`${base}/events`, {
      progress: (data) => {
        showRow(data.campaign);
        showStages(data.campaign, data.stages);
        pushSent(data.campaign.sent);
      },
      state: () => refresh(),
    });
    setInterval(() => { if (state === "running") loadReport(); }, 3000);
  }

  start();
})();
