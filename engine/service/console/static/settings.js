/* Account settings: the shared rate budgets live (an admin changes them here), and the contact-frequency
   policy (from the settings file, shown by the page itself). */
"use strict";

(() => {
  const { t, el, api, num, failed, confirmed } = KD;
  const admin = document.body.dataset.role === "admin";

  function row(info) {
    const cells = [
      el("th", {}, t(`channel.${info.channel}`)), el("td", { class: "num" }, num(info.rate)),
      el("td", { class: "num" }, num(Number(info.effective.toFixed(1)))),
      el("td", { class: "num" }, `${num(Number(info.backlog.toFixed(2)))} s`), el("td", { class: "num" }, num(info.in_flight)),
    ];
    if (admin) {
      const input = el("input", { type: "number", min: "0.1", step: "any", value: info.rate, "aria-label": t("set.rate") });
      const form = el("form", { class: "inline" }, input, el("button", { type: "submit", class: "secondary" }, t("set.apply")));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const question = t("confirm.rate", { channel: t(`channel.${info.channel}`), rate: input.value });
        confirmed(question, async () => {
          await api("PUT", "/rates", { rates: { [info.channel]: Number(input.value) } });
          load();
        }, t("done.action", { action: t("action.rates") }));
      });
      cells.push(el("td", {}, form));
    }
    return el("tr", { "data-channel": info.channel }, cells);
  }

  async function load() {
    try {
      const rates = await api("GET", "/rates");
      document.querySelector("#rates tbody").replaceChildren(...Object.values(rates).map(row));
    } catch (error) {
      failed(error);
    }
  }

  load();
})();
