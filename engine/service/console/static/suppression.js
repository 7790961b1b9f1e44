/* The suppression list: search a number, add or remove numbers, import a file, page through the list. */
"use strict";

(() => {
  const { t, el, api, num, notice, failed, confirmed } = KD;
  const listed = document.getElementById("sup-list");
  const more = document.getElementById("sup-more");
  let cursor = 0;
  const numbers = (text) => text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean);

  async function page(first) {
    try {
      const found = await api("GET", `/suppression?cursor=${first ? 0 : cursor}&limit=200`);
      const items = found.numbers.map((n) => el("li", {}, n));
      if (first) listed.replaceChildren(...items); else listed.append(...items);
      document.getElementById("sup-empty").hidden = listed.children.length > 0;
      cursor = found.next_cursor || 0;
      more.hidden = found.next_cursor === null;
    } catch (error) {
      failed(error);
    }
  }

  document.getElementById("sup-search").addEventListener("submit", async (event) => {
    event.preventDefault();
    const number = event.target.elements.number.value.trim();
    const out = document.getElementById("sup-found");
    try {
      const found = await api("POST", "/suppression/search", { number });
      out.textContent = t(found.suppressed ? "sup.is_suppressed" : "sup.not_suppressed", { number });
      out.className = `result ${found.suppressed ? "warn" : "ok"}`;
    } catch (error) {
      failed(error);
    }
  });

  document.getElementById("sup-change").addEventListener("submit", (event) => {
    event.preventDefault();
    const op = event.submitter.dataset.op;
    const given = numbers(event.target.elements.numbers.value);
    confirmed(t(`confirm.sup_${op}`, { n: num(given.length) }), async () => {
      const answer = await api("POST", op === "add" ? "/suppression" : "/suppression/remove", { numbers: given });
      notice(t("sup.changed", { n: num(answer.changed) }), "ok");
      page(true);
    });
  });

  document.getElementById("sup-import").addEventListener("submit", (event) => {
    event.preventDefault();
    const file = event.target.elements.file.files[0];
    confirmed(t("confirm.sup_import", { file: file.name }), async () => {
      const data = new FormData();
      data.append("file", file);
      const answer = await api("POST", "/suppression/import", data);
      notice(t("sup.changed", { n: num(answer.changed) }), "ok");
      page(true);
    });
  });

  more.addEventListener("click", () => page(false));
  page(true);
})();
