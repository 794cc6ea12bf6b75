// Audit & Governance > Exports: while an export builds, poll its progress and move its
// bar; once every export has ended, reload so the download links appear.
(function () {
  "use strict";
  var table = document.querySelector("table[data-exports][data-building]");
  if (!table) return;
  var POLL_MS = 1000;

  function building() {
    return Array.prototype.filter.call(table.querySelectorAll("tr[data-export]"), function (row) {
      var s = row.getAttribute("data-status");
      return s === "queued" || s === "running";
    });
  }

  function update(row, e) {
    row.setAttribute("data-status", e.status);
    row.querySelector("[data-export-status]").textContent = e.status;
    var bar = row.querySelector("progress");
    bar.max = e.runs_total;
    bar.value = e.runs_done;
    row.querySelector("[data-export-count]").textContent = e.runs_done + " / " + e.runs_total + " runs";
    row.querySelector("[data-export-size]").textContent = (e.bytes / 1048576).toFixed(1) + " MiB";
  }

  function poll() {
    var rows = building();
    if (!rows.length) {
      window.location.reload();
      return;
    }
    Promise.all(rows.map(function (row) {
      var id = row.getAttribute("data-export");
      return fetch("/console/governance/exports/" + encodeURIComponent(id) + "/progress", {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      }).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (e) { if (e) update(row, e); });
    })).catch(function () {}).then(function () { setTimeout(poll, POLL_MS); });
  }

  setTimeout(poll, POLL_MS);
})();
