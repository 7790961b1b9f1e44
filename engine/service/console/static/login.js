/* Login: the API token is exchanged for a session cookie, then the page asked for is opened. */
"use strict";

(() => {
  const form = document.getElementById("login");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await KD.api("POST", "/session", { token: form.elements.token.value.trim() });
      location.assign(form.dataset.next);
    } catch (error) {
      KD.notice(error.status === 401 ? KD.t("login.refused") : error.message, "error");
    }
  });
})();
