// Simulated hosted capture page. It behaves like the real one as far as the embedding page can
// tell: it posts `didit:*` messages to its parent (or, in a window of its own, to the page that
// opened it) and records the person's decision at gu1.
//
// What it posts (gu1-api.md §5.3), each payload carrying personal data the way the real page's
// do, so tests can prove an embedder's client drops it: `sessionId` in every message, and the
// markers of PERSON below (a name, a phone number, an e-mail, a country, a document type and
// number, free text, URLs).
//   at load        didit:ready, then didit:layout {contentHeight, colorScheme, dir} whenever the
//                  content's height changes ("Show capture tips" changes it)
//   Approve/Reject the whole capture flow, 60 ms apart (below a 20-a-second flood budget):
//                  started, step_started/step_completed/step_changed through document_selection,
//                  document_front, face and phone, document_selected, media_started {mediaType},
//                  media_captured {isAuto}, code_sent {channel, codeSize}, code_verified, then
//                  verification_submitted, status_updated and completed
//   Abandon        started, step_started, verification_submitted, status_updated, cancelled
//   buttons        "Report a camera failure": didit:error {error: {type: "cameraAccessDenied",
//                  message}, step: "face"}; "Ask to close": didit:close_request
// Query parameters script it for tests:
//   auto=approve|reject|abandon|start  decide automatically after `delay` ms
//   post=<type>                        only post this message type after `delay` ms (no decision)
//   format=string                      post messages as JSON strings instead of objects
//   repeat=<n>                         post the `post` message n times
//   hostile=1                          post a series of malformed, huge and prototype-polluting
//                                      messages after `delay` ms (window.__hostile counts them)
//   vocab=1                            post the whole vocabulary once after `delay` ms, in place
//                                      of the load's didit:ready: 16 messages in the order of
//                                      VOCABULARY (its error is a networkError, not a camera one)
//   flood=<n>                          post n didit:step_started messages at once after `delay`
//   layout=<h>                         post one didit:layout with contentHeight h after `delay`,
//                                      and no layout message of its own
//   error=<kind>                       post didit:error {error: {type: kind, message}, step:
//                                      "face"} after `delay` ms (e.g. cameraAccessDenied)
//   close=1                            post didit:close_request after `delay` ms
//   silent=1                           post nothing at all (a page that never answers)
//   frame=deny                         (read by the server) X-Frame-Options: DENY and
//                                      frame-ancestors 'none': a browser refuses to frame it
"use strict";
(function () {
  const id = location.pathname.split("/").pop();
  const q = new URLSearchParams(location.search);
  const asString = q.get("format") === "string";
  const silent = q.get("silent") === "1";
  const state = document.getElementById("state");
  const stepLine = document.getElementById("step");
  const buttons = ["approve", "reject", "abandon"].map((b) => document.getElementById(b));
  let started = false;
  let busy = false;
  const embedder = window.opener || parent;

  // Personal data as the real page's payloads carry it; none of it may reach an embedder's
  // analytics. Fixed strings, so a test can search for each.
  const PERSON = {
    fullName: "Ana María Testperson",
    phoneNumber: "+34 612 345 678",
    email: "ana.testperson@example.com",
    country: "ESP",
    documentType: "passport",
    documentNumber: "P1234567Z",
    callbackUrl: "https://bank.example/kyc/return?user=ana.testperson",
  };
  // Free text, as the real page's error and status messages have it.
  const note = (what) => `${PERSON.fullName}, ${what} (${PERSON.documentType} ${PERSON.documentNumber})`;

  function send(msg) {
    if (!silent) embedder.postMessage(asString ? JSON.stringify(msg) : msg, "*");
  }
  function post(type, data) {
    send({ type, data: Object.assign({ sessionId: id }, data || {}), timestamp: Date.now() });
  }
  // Every message of the capture flow also carries the page's own URL (it holds the session id).
  function postFlow(type, data) {
    post(type, Object.assign({ sessionUrl: location.href, fullName: PERSON.fullName }, data));
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  async function record(decision) {
    const r = await fetch("/hosted/" + encodeURIComponent(id) + "/decide", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ decision }),
    });
    return r.json();
  }

  const label = { approved: "Approved", rejected: "Declined", abandoned: "Abandoned" };
  const STEP_LABEL = {
    document_selection: "Choosing the document",
    document_front: "Front of the document",
    face: "Face capture",
    phone: "Phone number",
  };

  // The capture flow between `started` and the submission, as the real page reports it.
  const CAPTURE = [
    ["didit:step_started", { step: "document_selection" }],
    ["didit:document_selected", { documentType: PERSON.documentType, country: PERSON.country, documentNumber: PERSON.documentNumber }],
    ["didit:step_completed", { step: "document_selection", nextStep: "document_front" }],
    ["didit:step_changed", { step: "document_front", previousStep: "document_selection" }],
    ["didit:media_started", { step: "document_front", mediaType: "image" }],
    ["didit:media_captured", { step: "document_front", isAuto: true }],
    ["didit:step_completed", { step: "document_front", nextStep: "face" }],
    ["didit:step_changed", { step: "face", previousStep: "document_front" }],
    ["didit:media_started", { step: "face", mediaType: "video" }],
    ["didit:media_captured", { step: "face", isAuto: false }],
    ["didit:step_completed", { step: "face", nextStep: "phone" }],
    ["didit:step_started", { step: "phone" }],
    ["didit:code_sent", { step: "phone", channel: "sms", codeSize: 6, phoneNumber: PERSON.phoneNumber, message: note("we sent a code to your phone") }],
    ["didit:code_verified", { step: "phone", phoneNumber: PERSON.phoneNumber }],
    ["didit:step_completed", { step: "phone" }],
  ];
  const FLOW_GAP_MS = 60;

  async function decide(decision) {
    if (busy) return;
    // One decision at a time: a second click while the flow runs does nothing.
    if (decision !== "start") {
      busy = true;
      buttons.forEach((b) => (b.disabled = true));
    }
    if (!started) {
      started = true;
      post("didit:started", { country: PERSON.country });
      await record("start");
    }
    if (decision === "start") {
      state.textContent = "Capturing…";
      return;
    }
    if (decision === "abandon") {
      postFlow("didit:step_started", { step: "document_selection" });
    } else {
      for (const [type, data] of CAPTURE) {
        if (data.step && STEP_LABEL[data.step]) {
          stepLine.hidden = false;
          stepLine.textContent = STEP_LABEL[data.step] + "…";
        }
        postFlow(type, data);
        await sleep(FLOW_GAP_MS);
      }
    }
    postFlow("didit:verification_submitted", { step: "face" });
    const s = await record(decision);
    postFlow("didit:status_updated", { status: s.status, previousStep: "face", message: note("your capture is being checked") });
    if (!s.active) {
      if (decision === "abandon") {
        postFlow("didit:cancelled", { message: note("left the verification") });
      } else {
        postFlow("didit:completed", {
          status: label[s.status] || s.status,
          country: PERSON.country,
          documentType: PERSON.documentType,
          callbackUrl: PERSON.callbackUrl,
        });
      }
    }
    stepLine.hidden = true;
    state.textContent = "Submitted: " + s.status.replace("_", " ") + ".";
  }

  function cameraFailure(kind) {
    post("didit:error", {
      error: { type: kind, message: note("your camera could not be opened on " + location.href) },
      step: "face",
    });
  }

  buttons.forEach((b) => b.addEventListener("click", () => decide(b.id)));
  document.getElementById("camera-fail").addEventListener("click", () => {
    cameraFailure("cameraAccessDenied");
    state.textContent = "The camera could not be opened.";
  });
  document.getElementById("close-request").addEventListener("click", () => post("didit:close_request", { sessionUrl: location.href }));
  const more = document.getElementById("more");
  const tips = document.getElementById("tips");
  more.addEventListener("click", () => {
    tips.hidden = !tips.hidden;
    more.setAttribute("aria-expanded", String(!tips.hidden));
    more.textContent = tips.hidden ? "Show capture tips" : "Hide capture tips";
  });
  state.textContent = "Look at the camera, then choose an outcome.";

  const delay = Number(q.get("delay") || 0);
  const later = (fn) => setTimeout(fn, delay);

  // The whole vocabulary in one go (names as gu1-api.md §5.3 lists them).
  const VOCABULARY = [
    ["didit:ready", {}],
    ["didit:started", { country: PERSON.country }],
    ["didit:step_started", { step: "document_selection" }],
    ["didit:step_completed", { step: "document_selection", nextStep: "document_front" }],
    ["didit:step_changed", { step: "document_front", previousStep: "document_selection" }],
    ["didit:media_started", { step: "document_front", mediaType: "image" }],
    ["didit:media_captured", { step: "document_front", isAuto: true }],
    ["didit:document_selected", { documentType: PERSON.documentType, country: PERSON.country, documentNumber: PERSON.documentNumber }],
    ["didit:verification_submitted", { step: "face" }],
    ["didit:code_sent", { step: "phone", channel: "sms", codeSize: 6, phoneNumber: PERSON.phoneNumber, message: note("we sent a code to your phone") }],
    ["didit:code_verified", { step: "phone", phoneNumber: PERSON.phoneNumber }],
    ["didit:status_updated", { status: "IN_PROGRESS", previousStep: "face", message: note("your capture is being checked") }],
    ["didit:completed", { status: "Approved", country: PERSON.country, documentType: PERSON.documentType, callbackUrl: PERSON.callbackUrl }],
    ["didit:cancelled", { message: note("left the verification") }],
    ["didit:error", { error: { type: "networkError", message: note("the connection dropped at " + location.href) }, step: "face" }],
    ["didit:close_request", {}],
  ];
  if (q.get("vocab") === "1") {
    later(() => VOCABULARY.forEach(([type, data]) => postFlow(type, data)));
  } else {
    post("didit:ready");
  }

  // The content's height, as the real page reports it when embedded; only changes are posted.
  const fixedLayout = q.get("layout");
  const layout = (contentHeight) =>
    send({
      type: "didit:layout",
      data: {
        contentHeight,
        colorScheme: matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light",
        dir: document.documentElement.dir || "ltr",
      },
      timestamp: Date.now(),
    });
  if (fixedLayout !== null) {
    later(() => layout(Number(fixedLayout)));
  } else {
    let last = -1;
    new ResizeObserver(() => {
      const h = Math.ceil(document.getElementById("content").getBoundingClientRect().height);
      if (h !== last) {
        last = h;
        layout(h);
      }
    }).observe(document.getElementById("content"));
  }

  if (q.get("auto")) later(() => decide(q.get("auto")));
  if (q.get("error")) later(() => cameraFailure(q.get("error")));
  if (q.get("close") === "1") later(() => post("didit:close_request", { sessionUrl: location.href }));
  if (q.get("flood")) {
    const steps = Object.keys(STEP_LABEL);
    later(() => {
      for (let i = 0; i < Number(q.get("flood")); i++) postFlow("didit:step_started", { step: steps[i % steps.length] });
    });
  }
  if (q.get("hostile")) {
    later(() => {
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
      if (!silent) for (const m of list) embedder.postMessage(m, "*");
      window.__hostile = list.length;
    });
  }
  if (q.get("post")) {
    const n = Number(q.get("repeat") || 1);
    later(() => {
      for (let i = 0; i < n; i++) post(q.get("post"), { status: "Approved" });
    });
  }
})();
