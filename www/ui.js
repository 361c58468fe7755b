// The onboarding UI shared by both demo pages: a status line with progress while waiting, the
// result (with the rejection reason), an event log, and "Start over".

const WAITING = {
  none: "Preparing your session…",
  pending: "Follow the steps in the window below.",
  in_progress: "Capturing… keep your face in the frame.",
  in_review: "Almost there: your capture is being reviewed.",
};

const RESULTS = {
  approved: ["You're verified", "Thanks! Your identity is confirmed and your account is ready."],
  rejected: ["We couldn't verify you", ""],
  cancelled: ["Verification cancelled", "You can start again whenever you're ready."],
  expired: ["The session expired", "It stayed open too long. Start over to try again."],
  abandoned: ["Verification not finished", "You left before finishing. Start over to try again."],
};

export function bindUi(target, { restart }) {
  const status = document.getElementById("status");
  const statusText = document.getElementById("status-text");
  const result = document.getElementById("result");
  const events = document.getElementById("events");
  const log = (type, text) => {
    const li = document.createElement("li");
    li.dataset.type = type;
    li.textContent = text ? `${type} · ${text}` : type;
    events.appendChild(li);
  };
  const showResult = (state, title, text) => {
    status.dataset.state = state;
    statusText.textContent = title;
    result.hidden = false;
    result.dataset.state = state;
    document.getElementById("result-title").textContent = title;
    document.getElementById("result-text").textContent = text;
  };

  target.addEventListener("gu1kyc:ready", () => {
    log("gu1kyc:ready");
    if (status.dataset.state === "waiting" && statusText.textContent.startsWith("Loading")) {
      statusText.textContent = WAITING.pending;
    }
  });
  target.addEventListener("gu1kyc:status", (e) => {
    const s = e.detail.status;
    log("gu1kyc:status", s);
    if (!e.detail.terminal) {
      status.dataset.state = "waiting";
      statusText.textContent = WAITING[s] || `Status: ${s}`;
    }
  });
  target.addEventListener("gu1kyc:complete", (e) => {
    const r = e.detail;
    log("gu1kyc:complete", r.status);
    const [title, text] = RESULTS[r.status] || [`Finished: ${r.status}`, ""];
    const reason = r.status === "rejected" ? r.rejectionMessage || r.rejectionCode || "No reason was given." : text;
    const withCode = r.status === "rejected" && r.rejectionCode ? `${reason} (${r.rejectionCode})` : reason;
    showResult(r.status, title, withCode);
  });
  target.addEventListener("gu1kyc:error", (e) => {
    const { code, message, retrying } = e.detail;
    log("gu1kyc:error", `${code}${retrying ? " (retrying)" : ""}`);
    if (retrying) {
      statusText.textContent = "Connection trouble, retrying…";
    } else {
      showResult("error", "Something went wrong", `${message} [${code}]`);
    }
  });
  target.addEventListener("gu1kyc:fallback", (e) => {
    log("gu1kyc:fallback", e.detail.reason);
    statusText.textContent = "The camera can't be used in this page: continue in a new window.";
  });
  // The dialog or the window was closed: the session goes on, and can be opened again.
  const reopen = document.getElementById("reopen");
  target.addEventListener("gu1kyc:close", (e) => {
    log("gu1kyc:close", e.detail.view);
    if (reopen && e.detail.view === "modal" && !result.dataset.state) reopen.hidden = false;
  });
  if (reopen) {
    reopen.addEventListener("click", () => target.open());
    target.addEventListener("gu1kyc:complete", () => (reopen.hidden = true));
  }
  document.getElementById("restart").addEventListener("click", restart);
}
