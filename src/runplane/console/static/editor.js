// editor.js: the step-agent editor's rows, in the page. Without it the same buttons post
// the form and the server draws it again rearranged.
"use strict";

(function () {
  function newKey() {
    const bytes = new Uint8Array(4);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // A fresh row from its <template>, every "KEY" in names and ids made its own key.
  function fromTemplate(id) {
    const key = newKey();
    const html = document.getElementById(id).innerHTML.replaceAll("KEY", key);
    const box = document.createElement("div");
    box.innerHTML = html; // our own template, drawn by the server: no user text in it
    return box.firstElementChild;
  }

  function showFormats(step) {
    const select = step.querySelector("[data-format]");
    if (!select) return;
    step.querySelectorAll("[data-for-format]").forEach((part) => {
      part.hidden = part.dataset.forFormat !== select.value;
    });
  }

  function renumber(form) {
    const steps = form.querySelectorAll("#steps > [data-step]");
    steps.forEach((step, i) => {
      step.querySelector(".step-num").textContent = String(i + 1);
      step.querySelector('[data-row="up"]').disabled = i === 0;
      step.querySelector('[data-row="down"]').disabled = i === steps.length - 1;
    });
  }

  function editor() {
    const form = document.getElementById("agent-editor");
    if (!form) return;
    const steps = document.getElementById("steps");
    const variables = document.getElementById("variables");
    steps.querySelectorAll("[data-step]").forEach(showFormats);
    renumber(form);

    form.addEventListener("change", (e) => {
      if (e.target.matches("[data-format]")) showFormats(e.target.closest("[data-step]"));
    });

    form.addEventListener("click", (e) => {
      const button = e.target.closest("button[data-row]");
      if (!button) return;
      e.preventDefault();
      const verb = button.dataset.row;
      const step = button.closest("[data-step]");
      if (verb === "add_step") {
        const fresh = fromTemplate("step-template");
        steps.append(fresh);
        showFormats(fresh);
        renumber(form);
        fresh.querySelector("input[name$='.name']").focus();
      } else if (verb === "add_var") {
        const fresh = fromTemplate("var-template");
        variables.append(fresh);
        fresh.querySelector("input").focus();
      } else if (verb === "remove_var") {
        button.closest("[data-var]").remove();
      } else if (verb === "remove_step") {
        step.remove();
        if (!steps.querySelector("[data-step]")) steps.append(fromTemplate("step-template"));
        renumber(form);
      } else if (verb === "up" && step.previousElementSibling) {
        step.previousElementSibling.before(step);
        renumber(form);
        button.focus();
      } else if (verb === "down" && step.nextElementSibling) {
        step.nextElementSibling.after(step);
        renumber(form);
        button.focus();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", editor);
})();
