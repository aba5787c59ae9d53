// PolicyBot web console: ask without reloading the page, and copy an answer with its citation.
// Without JavaScript every form still works (the server renders whole pages).
(function () {
  "use strict";

  function conversation() { return document.getElementById("conversation"); }

  async function ask(form, event) {
    const box = conversation();
    if (!box) return; // not on the Ask page: let the form post and render the Ask page
    event.preventDefault();
    const data = new FormData(form);
    if (!String(data.get("text") || "").trim()) return;
    const askbox = document.getElementById("askbox");
    askbox.classList.add("busy");
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: data,
        headers: { "X-Console-Fragment": "1" },
        credentials: "same-origin",
      });
      if (response.status === 401) { window.location.reload(); return; }
      const html = await response.text();
      const hint = box.querySelector(".hint");
      if (hint) hint.remove();
      box.insertAdjacentHTML("beforeend", html);
      box.lastElementChild.scrollIntoView({ block: "start", behavior: "smooth" });
      if (form.id === "askbox") form.reset();
    } finally {
      askbox.classList.remove("busy");
      document.getElementById("question").focus();
    }
  }

  async function copy(button) {
    const text = button.dataset.copy;
    try {
      await navigator.clipboard.writeText(text);
    } catch (_error) { // plain HTTP on an office network: the clipboard API is not offered
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    const label = button.textContent;
    button.textContent = button.dataset.done;
    setTimeout(function () { button.textContent = label; }, 1500);
  }

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (form.classList && form.classList.contains("js-ask")) ask(form, event);
  });
  document.addEventListener("click", function (event) {
    const button = event.target.closest("button.copy");
    if (button) copy(button);
  });
})();
