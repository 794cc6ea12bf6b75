// The approval link page: the token is the URL's fragment, never sent in a URL;
// it is posted in request bodies only.
(function () {
  "use strict";
  var root = document.getElementById("approval-link");
  if (!root) return;
  var token = decodeURIComponent((location.hash || "").replace(/^#/, ""));
  var status = root.querySelector("[data-role=status]");
  var details = root.querySelector("[data-role=details]");
  var form = root.querySelector("[data-role=decide]");

  function field(name, text) {
    root.querySelector("[data-field=" + name + "]").textContent = text || "";
  }

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "omit",
      body: JSON.stringify(body),
    }).then(function (res) {
      return res.json().then(function (data) {
        if (!res.ok) throw new Error(data.message || "the request failed (" + res.status + ")");
        return data;
      });
    });
  }

  function show(approval) {
    details.hidden = false;
    field("run_id", approval.run_id);
    field("kind", { plan: "the plan", tool_call: "a tool call", in_doubt: "an in-doubt call" }[approval.kind] || approval.kind);
    field("status", approval.status);
    field("reason", (approval.request || {}).reason);
    field("request", JSON.stringify(approval.request, null, 2));
    var pending = approval.status === "pending" && approval.kind !== "in_doubt";
    form.hidden = !pending;
    status.textContent = pending ? "Approve or reject; the link works once." : "This approval is decided.";
  }

  if (!token) {
    status.textContent = "This link has no token.";
    return;
  }
  post("/v1/runs/approval/view", { token: token }).then(show, function (err) {
    status.textContent = err.message;
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var decision = event.submitter ? event.submitter.value : "approve";
    var comment = form.elements.comment.value.trim() || null;
    post("/v1/runs/approval", { token: token, decision: decision, comment: comment }).then(
      function (approval) {
        history.replaceState(null, "", location.pathname); // forget the used token
        show(approval);
      },
      function (err) { status.textContent = err.message; }
    );
  });
})();
