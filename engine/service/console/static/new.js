/* A new campaign: a recipient file, its columns mapped to the template's parameters, the forecast and
   preflight before anything is sent, then submit (now, at a start time, or as a trial send first). */
"use strict";

(() => {
  const { t, el, api, num, notice, failed, confirmed } = KD;
  const form = document.getElementById("campaign-form");
  const f = form.elements;
  const HEAD_BYTES = 64 * 1024;
  let catalog = { smart_templates: [], basic_templates: [], ports: [] };
  let columns = [];
  // one Idempotency-Key per form content: a double click submits once (works without a secure context)
  const newKey = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
  let idempotency = newKey();

  const list = (value) => value.split(/[,\s]+/).map((s) => s.trim()).filter(Boolean);
  const options = (select, items, chosen) => select.replaceChildren(...items.map(([value, label]) =>
    el("option", { value, selected: value === chosen }, label)));

  /** The header of a CSV or TXT file, read from its first bytes in the browser. */
  async function header(file) {
    if (!/\.(csv|txt)$/i.test(file.name)) return null;
    const first = (await file.slice(0, HEAD_BYTES).text()).replace(/^\uFEFF/, "").split(/\r?\n/)[0];
    return first.split(",").map((c) => c.trim().replace(/^"|"$/g, "")).filter(Boolean);
  }

  function fillColumns() {
    const known = columns.length ? columns : ["mobile", ...params()];
    for (const select of form.querySelectorAll("select[data-columns]")) {
      const chosen = select.value || (select.name === "mobile_column" ? "mobile" : select.dataset.param);
      options(select, known.map((c) => [c, c]), known.includes(chosen) ? chosen : known[0]);
    }
  }

  function template() {
    return catalog.smart_templates.find((tpl) => tpl.tpl_id === f.template_id.value);
  }

  function params() {
    const found = template();
    return found ? found.params : [];
  }

  function showParams() {
    document.getElementById("params").replaceChildren(...params().map((p) =>
      el("label", {}, t("new.param", { param: p }), " ",
        el("select", { name: `param:${p}`, "data-columns": "", "data-param": p }))));
    fillColumns();
  }

  function showSignatures() {
    const port = catalog.ports.find((p) => p.port === f.channel_number.value);
    options(f.signature, (port ? port.signs : []).map((s) => [s, s]));
  }

  async function loadCatalog() {
    try {
      catalog = await api("GET", "/provider/catalog");
    } catch (error) {
      failed(error);
    }
    options(f.template_id, catalog.smart_templates.map((tpl) => [tpl.tpl_id, `${tpl.tpl_name} (${tpl.tpl_id})`]));
    options(f.channel_number, catalog.ports.map((p) => [p.port, `${p.port} ${p.pub_name}`]));
    options(f.basic_template_id, [["", "–"], ...catalog.basic_templates.map((tpl) => [tpl.tpl_id, `${tpl.tpl_name} (${tpl.tpl_id})`])]);
    showParams();
    showSignatures();
  }

  /** Deep merge of the advanced JSON into the spec the form describes. */
  function merge(into, extra) {
    for (const [key, value] of Object.entries(extra)) {
      if (value && typeof value === "object" && !Array.isArray(value) && into[key] && typeof into[key] === "object") {
        merge(into[key], value);
      } else {
        into[key] = value;
      }
    }
    return into;
  }

  function spec() {
    const dync = {};
    for (const p of params()) dync[p] = f[`param:${p}`].value;
    const fallback = { policy: f.policy.value };
    if (f.fallback_sms_template_id.value) fallback.sms_template_id = f.fallback_sms_template_id.value;
    if (f.fallback_sms_params.value) fallback.sms_params = list(f.fallback_sms_params.value);
    if (f.basic_template_id.value) fallback.basic_template_id = f.basic_template_id.value;
    const schedule = { timezone: f.timezone.value };
    if (f.start_at.value) schedule.start_at = zoned(f.start_at.value);
    if (f.trial_numbers.value) schedule.trial_numbers = list(f.trial_numbers.value);
    const made = {
      name: f.name.value,
      smart: { template_id: f.template_id.value, sms_params: list(f.sms_params.value), dync_params: dync },
      sms_channel: {
        channel_number: f.channel_number.value, sms_template_id: f.sms_template_id.value,
        signature: f.signature.value, app_name: f.app_name.value,
      },
      fallback,
      recipients: { mobile_column: f.mobile_column.value },
      schedule,
      budget: { priority: f.priority.value },
    };
    return f.advanced.value.trim() ? merge(made, JSON.parse(f.advanced.value)) : made;
  }

  /** A datetime-local value read in the campaign's time zone, as ISO 8601 with that zone's offset. */
  function zoned(local) {
    const guess = new Date(`${local}:00Z`);
    const parts = new Intl.DateTimeFormat("en-US", { timeZone: f.timezone.value, timeZoneName: "longOffset" })
      .formatToParts(guess).find((p) => p.type === "timeZoneName").value; // "GMT+08:00"
    const offset = parts === "GMT" ? "+00:00" : parts.slice(3);
    return `${local}:00${offset}`;
  }

  function upload(extra) {
    const data = new FormData();
    data.append("spec", JSON.stringify(spec()));
    data.append("recipients", f.recipients.files[0]);
    for (const [name, value] of Object.entries(extra || {})) data.append(name, value);
    return data;
  }

  function rows(id, pairs) {
    document.querySelector(`#${id} tbody`).replaceChildren(...pairs.map(([label, value]) =>
      el("tr", {}, el("th", {}, label), el("td", { class: "num" }, value))));
  }

  function showForecast(fc) {
    rows("fc-counts", ["rows", "imported", "invalid", "duplicates", "suppressed", "accepted"]
      .map((k) => [t(`count.${k}`), num(fc.counts[k])]));
    const segments = Object.values(fc.sms).map((s) => `${s.template_id}: ${num(s.segments)}`).join(", ") || "–";
    const c = fc.cost;
    const cost = c.unpriced.length ? t("fc.unpriced", { prices: c.unpriced.join(", ") })
      : `${(c.smart + c.sms + c.basic).toFixed(2)} ${c.currency}`;
    rows("fc-plan", [
      [t("fc.split"), ["capable", "not_capable", "unknown"].map((k) => `${t(`split.${k}`)} ${num(fc.split[k])}`).join(" · ")],
      [t("fc.messages"), Object.entries(fc.messages).map(([ch, n]) => `${t(`channel.${ch}`)} ${num(n)}`).join(" · ")],
      [t("fc.segments"), segments],
      [t("fc.cost"), cost],
      [t("fc.eta"), t("fc.seconds", { n: num(Math.ceil(fc.eta_seconds)) })],
      [t("fc.frequency_capped"), num(fc.frequency_capped)],
      [t("fc.skipped"), num(fc.skipped)],
    ]);
    document.getElementById("fc-notes").replaceChildren(
      ...fc.errors.map((e) => el("li", { class: "error" }, e)), ...fc.warnings.map((w) => el("li", {}, w)));
    document.getElementById("forecast").hidden = false;
  }

  async function forecast() {
    if (!form.reportValidity()) return;
    notice(t("new.forecasting"), "ok");
    try {
      showForecast(await api("POST", "/plan", upload()));
      notice("");
    } catch (error) {
      failed(error);
    }
  }

  async function preflight() {
    if (!form.reportValidity()) return;
    const box = document.getElementById("preflight");
    try {
      const found = await api("POST", "/preflight", spec());
      box.querySelector("ul").replaceChildren(...(found.warnings.length
        ? found.warnings.map((w) => el("li", {}, w)) : [el("li", { class: "ok" }, t("new.preflight_ok"))]));
    } catch (error) {
      box.querySelector("ul").replaceChildren(el("li", { class: "error" }, error.message));
    }
    box.hidden = false;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const trial = f.trial_numbers.value.trim();
    const when = f.start_at.value ? t("new.at", { at: `${f.start_at.value} ${f.timezone.value}` }) : t("new.now");
    const question = t(trial ? "confirm.trial" : "confirm.submit", { name: f.name.value, when });
    confirmed(question, async () => {
      const made = await api("POST", "/campaigns", upload(), { "Idempotency-Key": idempotency });
      location.assign(`/console/campaigns/${encodeURIComponent(made.cid)}`);
    });
  });
  form.addEventListener("input", () => { idempotency = newKey(); });
  f.recipients.addEventListener("change", async () => {
    const file = f.recipients.files[0];
    columns = (file && (await header(file))) || [];
    document.getElementById("columns-hint").textContent = columns.length
      ? t("new.columns_found", { columns: columns.join(", ") }) : t("new.columns_hint");
    fillColumns();
  });
  f.template_id.addEventListener("change", showParams);
  f.channel_number.addEventListener("change", showSignatures);
  document.getElementById("forecast-btn").addEventListener("click", forecast);
  document.getElementById("preflight-btn").addEventListener("click", preflight);
  loadCatalog();
})();
