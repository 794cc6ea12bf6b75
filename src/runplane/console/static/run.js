// run.js: behaviour of its pages (see console.js for the shared parts).
"use strict";

(function () {
  const TERMINAL = ["succeeded", "failed", "canceled"];
  const WAITING = ["paused", "auth_required"];
  const LABELS = { queued: "Queued", running: "Running", paused: "Waiting for approval",
    auth_required: "Waiting for a connection", succeeded: "Succeeded", failed: "Failed", canceled: "Canceled" };

  function runBadge(status) {
    const span = document.createElement("span");
    span.className = "badge s-" + status;
    span.dataset.status = status;
    span.textContent = LABELS[status] || status;
    return span;
  }

  // One timeline entry, built from text only (event data never becomes markup).
  function entry(ev) {
    const li = document.createElement("li");
    li.className = "ev new " + (ev.css || "");
    li.dataset.seq = String(ev.seq);
    const head = document.createElement("div");
    head.className = "ev-head";
    const type = document.createElement("span");
    type.className = "ev-type";
    type.textContent = ev.label || ev.type;
    const time = document.createElement("time");
    if (ev.at) time.setAttribute("datetime", ev.at);
    time.textContent = ev.time || "";
    const seq = document.createElement("span");
    seq.className = "muted small";
    seq.textContent = "#" + ev.seq;
    head.append(type, " ", time, " ", seq);
    li.append(head);
    if (ev.summary) {
      const p = document.createElement("p");
      p.className = "ev-summary";
      p.textContent = ev.summary;
      li.append(p);
    }
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = "Details";
    const pre = document.createElement("pre");
    pre.textContent = ev.details || JSON.stringify(ev.data, null, 2);
    details.append(summary, pre);
    li.append(details);
    return li;
  }

  // A model's streamed text: pieces of one step go on one timeline entry, and into the
  // running step's live box. Text only, never markup.
  function deltaEntry(ev, step) {
    const li = document.createElement("li");
    li.className = "ev new " + (ev.css || "");
    li.dataset.seq = String(ev.seq);
    li.dataset.deltaStep = step === null ? "" : String(step);
    const head = document.createElement("div");
    head.className = "ev-head";
    const type = document.createElement("span");
    type.className = "ev-type";
    type.textContent = (ev.label || "Model") + (step ? " · step " + step : "");
    const time = document.createElement("time");
    if (ev.at) time.setAttribute("datetime", ev.at);
    time.textContent = ev.time || "";
    const seq = document.createElement("span");
    seq.className = "muted small";
    seq.textContent = "#" + ev.seq;
    head.append(type, " ", time, " ", seq);
    const text = document.createElement("p");
    text.className = "ev-text";
    li.append(head, text);
    return li;
  }

  function addDelta(timeline, ev) {
    const data = ev.data || {};
    const step = typeof data.step === "number" ? data.step : null;
    const piece = typeof data.text === "string" ? data.text : "";
    if (!timeline) return;
    let li = timeline.lastElementChild;
    const same = li && li.dataset.deltaStep !== undefined && li.dataset.deltaStep === (step === null ? "" : String(step));
    if (!same) {
      li = deltaEntry(ev, step);
      timeline.append(li);
    }
    li.dataset.seq = String(ev.seq);
    li.querySelector(".ev-text").append(piece);
  }

  function runPage() {
    const page = document.querySelector("[data-run-page]");
    if (!page) return;
    page.querySelectorAll("[data-confirm]").forEach((button) =>
      button.addEventListener("click", (e) => { if (!confirm(button.dataset.confirm)) e.preventDefault(); }));
    if (page.dataset.live !== "true" || !window.EventSource) return;

    const runId = page.dataset.runId;
    let lastSeq = parseInt(page.dataset.lastSeq || "0", 10) || 0;
    const timeline = document.getElementById("timeline");
    const badgeBox = document.getElementById("run-badge");
    const statusText = document.getElementById("run-status-text");
    let reloading = false;

    const url = "/console/runs/" + encodeURIComponent(runId) + "/events?after=" + lastSeq;
    const source = new EventSource(url);

    function reload() {
      if (reloading) return;
      reloading = true;
      source.close();
      // Let the badge and text show the change a moment, then render it all server-side.
      setTimeout(() => window.location.reload(), 400);
    }

    // The steps and options are drawn by the server: fetch them again (at most twice a second) as
    // steps start and finish. Parsed as a document, never run as script.
    // Streamed text per step, kept to put back into a live box the server drew before it came.
    const said = new Map();
    function fillLive(box) {
      const step = parseInt(box.dataset.stepLive, 10);
      const upto = parseInt(box.dataset.upto || "0", 10) || 0;
      for (const [seq, text] of said.get(step) || []) {
        if (seq > upto) { box.append(text); box.dataset.upto = String(seq); }
      }
    }
    let stepsTimer = null;
    function refreshSteps() {
      if (stepsTimer) return;
      stepsTimer = setTimeout(async () => {
        stepsTimer = null;
        try {
          const res = await fetch(window.location.pathname, { credentials: "same-origin" });
          if (!res.ok || reloading) return;
          const doc = new DOMParser().parseFromString(await res.text(), "text/html");
          for (const part of [".run-steps", ".run-options"]) {
            const fresh = doc.querySelector(part);
            const current = page.querySelector(part);
            if (fresh && current) current.replaceWith(document.importNode(fresh, true));
          }
          page.querySelectorAll("[data-step-live]").forEach(fillLive);
        } catch (_) { /* the next event tries again */ }
      }, 500);
    }

    source.addEventListener("runplane", (e) => {
      let ev;
      try { ev = JSON.parse(e.data); } catch (_) { return; }
      if (typeof ev.seq !== "number" || ev.seq <= lastSeq) return; // already shown
      lastSeq = ev.seq;
      page.dataset.lastSeq = String(lastSeq);
      const data = ev.data || {};
      if (ev.type === "message.delta") {
        addDelta(timeline, ev);
        if (typeof data.step === "number" && typeof data.text === "string") {
          if (!said.has(data.step)) said.set(data.step, []);
          said.get(data.step).push([ev.seq, data.text]);
          const box = page.querySelector('[data-step-live="' + data.step + '"]');
          if (box) fillLive(box);
        }
        return;
      }
      if (timeline) timeline.append(entry(ev));
      if (ev.type === "status" && ev.status) {
        badgeBox.replaceChildren(runBadge(ev.status));
        statusText.textContent = ev.summary || LABELS[ev.status] || ev.status;
        // Results, steps and approval forms are drawn by the server.
        if (TERMINAL.includes(ev.status) || WAITING.includes(ev.status)) reload();
      } else if (ev.type === "step.started") {
        statusText.textContent = "Running step " + data.number + (data.name ? ": " + data.name : "");
        refreshSteps();
      } else if (ev.type === "step.completed" || ev.type === "step.failed") {
        refreshSteps();
      } else if (ev.type === "approval.required" || ev.type === "auth.required" || ev.type === "error") {
        statusText.textContent = ev.summary || ev.label;
      }
    });
    source.addEventListener("end", () => { source.close(); if (!reloading) reload(); });
  }

  window.runplaneRunPage = runPage;
})();
