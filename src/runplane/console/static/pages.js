// pages.js: behaviour of the approvals and agents pages (see console.js for the shared parts).
// Progressive enhancement only: every form works without it.
"use strict";

(function () {
  if (window.runplanePagesLoaded) return; // linked from a page and from base.html: run once
  window.runplanePagesLoaded = true;

  // Ask before what cannot be undone (rejecting a plan, failing a run, publishing).
  function confirmations(root) {
    root.querySelectorAll("form [data-confirm]").forEach((button) => {
      if (button.closest("#bulk")) return; // the runs list has its own
      button.addEventListener("click", (e) => {
        if (!window.confirm(button.dataset.confirm)) e.preventDefault();
      });
    });
  }

  // One submit per form: a second click while the page loads would decide twice.
  function submitOnce(root) {
    root.querySelectorAll("form.decide, form.run-form").forEach((form) => {
      form.addEventListener("submit", () => {
        setTimeout(() => form.querySelectorAll("button[type=submit]").forEach((b) => (b.disabled = true)), 0);
      });
    });
  }

  // Coming back to the page (history), the buttons work again.
  window.addEventListener("pageshow", () =>
    document.querySelectorAll("form button[type=submit]:disabled").forEach((b) => (b.disabled = false)));

  // JSON fields say at once whether what was typed parses.
  function jsonHints(root) {
    root.querySelectorAll("textarea[data-json]").forEach((area) => {
      const note = document.createElement("p");
      note.className = "hint";
      note.setAttribute("aria-live", "polite");
      area.insertAdjacentElement("afterend", note);
      area.addEventListener("input", () => {
        const text = area.value.trim();
        if (!text) { note.textContent = ""; return; }
        try { JSON.parse(text); note.textContent = "Valid JSON."; }
        catch (err) { note.textContent = "Not valid JSON yet: " + err.message; }
      });
    });
  }

  // After a refused form, put the focus on the first field in error.
  function focusError(root) {
    const bad = root.querySelector('[aria-invalid="true"]');
    if (bad) bad.focus();
  }

  document.addEventListener("DOMContentLoaded", () => {
    confirmations(document);
    submitOnce(document);
    jsonHints(document);
    focusError(document);
  });
})();
