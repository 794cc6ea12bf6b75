// runplane console: progressive enhancement only; every page works without it.
"use strict";

function badge(status) {
  const labels = { queued: "Queued", running: "Running", paused: "Waiting for approval",
    auth_required: "Waiting for a connection", succeeded: "Succeeded", failed: "Failed", canceled: "Canceled" };
  const span = document.createElement("span");
  span.className = "badge s-" + status;
  span.dataset.status = status;
  span.textContent = labels[status] || status;
  return span;
}

// Runs list: statuses change in place, without reloading the page.
function liveStatuses() {
  const table = document.querySelector("[data-live-statuses]");
  if (!table || !window.EventSource) return;
  const ids = table.dataset.liveStatuses;
  if (!ids) return;
  const source = new EventSource("/console/runs-statuses?ids=" + encodeURIComponent(ids));
  source.addEventListener("status", (e) => {
    const data = JSON.parse(e.data);
    const row = table.querySelector('tr[data-run="' + CSS.escape(data.id) + '"]');
    if (!row) return;
    row.querySelector(".status").replaceChildren(badge(data.status));
    row.querySelector(".steps").textContent = data.steps;
    row.querySelector(".updated").textContent = "just now";
  });
  source.addEventListener("done", () => source.close());
}

// Select-all and a count of what is selected; confirm before destructive actions.
function bulkSelection() {
  const form = document.getElementById("bulk");
  if (!form) return;
  const boxes = () => Array.from(form.querySelectorAll('input[name="run_ids"]'));
  const count = document.getElementById("selected-count");
  const update = () => {
    const n = boxes().filter((b) => b.checked).length;
    count.textContent = n ? n + " selected" : "Select runs to act on several at once.";
  };
  const all = form.querySelector("[data-select-all]");
  if (all) all.addEventListener("change", () => { boxes().forEach((b) => (b.checked = all.checked)); update(); });
  form.addEventListener("change", update);
  form.querySelectorAll("[data-confirm]").forEach((button) =>
    button.addEventListener("click", (e) => { if (!confirm(button.dataset.confirm)) e.preventDefault(); }));
}

document.addEventListener("DOMContentLoaded", () => {
  liveStatuses();
  bulkSelection();
  if (window.runplaneRunPage) window.runplaneRunPage();
});
