// Simulated hosted capture page. It behaves like the real one as far as the embedding page can
// tell: it posts `didit:*` messages to its parent (or, in a window of its own, to the page that
// opened it) and records the person's decision at gu1.
// Query parameters script it for tests:
//   auto=approve|reject|abandon|start  decide automatically after `delay` ms
//   post=<type>                        only post this message type after `delay` ms (no decision)
//   format=string                      post messages as JSON strings instead of objects
//   repeat=<n>                         post the `post` message n times
//   hostile=1                          post a series of malformed, huge and prototype-polluting
//                                      messages after `delay` ms (window.__hostile counts them)
"use strict";
(function () {
  const id = location.pathname.split("/").pop();
  const q = new URLSearchParams(location.search);
  const asString = q.get("format") === "string";
  const state = document.getElementById("state");
  const buttons = ["approve", "reject", "abandon"].map((b) => document.getElementById(b));
  let started = false;
  const embedder = window.opener || parent;

  function post(type, data) {
    const msg = { type, data: Object.assign({ sessionId: id }, data || {}), timestamp: Date.now() };
    embedder.postMessage(asString ? JSON.stringify(msg) : msg, "*");
  }

  async function send(decision) {
    const r = await fetch("/hosted/" + encodeURIComponent(id) + "/decide", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ decision }),
    });
    return r.json();
  }

  const label = { approved: "Approved", rejected: "Declined", abandoned: "Abandoned" };

  async function decide(decision) {
    if (!started) {
      started = true;
      post("didit:started");
      await send("start");
    }
    if (decision === "start") {
      state.textContent = "Capturing…";
      return;
    }
    buttons.forEach((b) => (b.disabled = true));
    post("didit:verification_submitted", { step: "face" });
    const s = await send(decision);
    post("didit:status_updated", { status: s.status });
    if (!s.active) {
      post(decision === "abandon" ? "didit:cancelled" : "didit:completed", { status: label[s.status] || s.status });
    }
    state.textContent = "Submitted: " + s.status.replace("_", " ") + ".";
  }

  buttons.forEach((b) => b.addEventListener("click", () => decide(b.id)));
  state.textContent = "Look at the camera, then choose an outcome.";
  post("didit:ready");

  const delay = Number(q.get("delay") || 0);
  if (q.get("auto")) setTimeout(() => decide(q.get("auto")), delay);
  if (q.get("hostile")) {
    setTimeout(() => {
      const big = "x".repeat(1 << 20);
      const list = [
        "{not json",
        "didit:completed",
        JSON.stringify({ type: "didit:completed", pad: big }),
        { type: "didit:completed", data: { status: "Approved", pad: big } },
        JSON.parse('{"__proto__": {"type": "didit:completed"}}'),
        JSON.parse('{"data": {"__proto__": {"type": "didit:completed"}}}'),
        '{"__proto__": {"type": "didit:completed"}}',
        { constructor: { type: "didit:completed" } },
        { constructor: "didit:completed", prototype: { type: "didit:completed" } },
        { type: ["didit:completed"] },
        { type: 42 },
        { type: { type: "didit:completed" } },
        null,
        42,
        [{ type: "didit:completed" }],
        { data: { data: { data: { data: { data: { type: "didit:completed" } } } } } },
        new Array(100000).fill({ type: "didit:completed" }),
        { type: "didit:" + "x".repeat(10000) },
        { type: "didit:completed\u0000" },
        new Uint8Array(1 << 16),
      ];
      for (const m of list) embedder.postMessage(m, "*");
      window.__hostile = list.length;
    }, delay);
  }
  if (q.get("post")) {
    const n = Number(q.get("repeat") || 1);
    setTimeout(() => {
      for (let i = 0; i < n; i++) post(q.get("post"), { status: "Approved" });
    }, delay);
  }
})();
