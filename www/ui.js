// The onboarding UI shared by both demo pages: a status line with progress while waiting, the
// result (with the rejection reason), the funnel (each step the hosted page reports, with its
// time), an event log, and "Start over". bindUi returns `step`, which each page feeds its own
// way: the drop-in from `gu1kyc:step` events, the npm page from the `onStep` option.

const WAITING = {
  none: "Preparing your session…",
  pending: "Follow the steps in the window below.",
  in_progress: "Capturing… keep your face in the frame.",
  in_review: "Almost there: your capture is being reviewed.",
};

// Why the window button replaced the iframe (gu1kyc:fallback's reason).
const FALLBACK = {
  INSECURE_CONTEXT: "this page is not served over HTTPS",
  NO_MEDIA_DEVICES: "this browser gives no camera access here",
  CAMERA_BLOCKED_BY_POLICY: "this page's permissions policy blocks the camera",
  IN_APP_BROWSER: "in-app browsers keep the camera from embedded pages",
  CAMERA_DENIED: "camera access is denied for this site",
  CAMERA_FAILED_IN_FRAME: "the camera failed inside the embedded capture",
  FRAME_NOT_RESPONDING: "the embedded capture did not respond",
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
  const funnel = document.getElementById("funnel");
  const funnelEmpty = document.getElementById("funnel-empty");
  // Set once the fallback panel shows: the status line keeps saying so while the session waits.
  let fallback = null;
  const waiting = (s) => fallback || WAITING[s] || `Status: ${s}`;
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
      statusText.textContent = waiting("pending");
    }
  });
  target.addEventListener("gu1kyc:status", (e) => {
    const s = e.detail.status;
    log("gu1kyc:status", s);
    if (!e.detail.terminal) {
      status.dataset.state = fallback ? "fallback" : "waiting";
      statusText.textContent = waiting(s);
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
    const reason = e.detail.reason;
    log("gu1kyc:fallback", reason);
    const why = FALLBACK[reason] || "the camera cannot work here";
    fallback = `The camera can't be used on this page, so the verification continues in a new window: press the button below. Why: ${why} (${reason}).`;
    status.dataset.state = "fallback";
    statusText.textContent = fallback;
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

  // The funnel: one line per step event, "+1.2 s  #3  media_started  face · video". Only the
  // event's own fields are shown; it carries no personal data.
  return {
    step(d) {
      const li = document.createElement("li");
      li.dataset.name = d.name;
      const time = document.createElement("span");
      time.className = "at";
      time.textContent = `+${(d.at / 1000).toFixed(1)} s`;
      const name = document.createElement("code");
      name.textContent = d.name;
      const what = [d.step, d.mediaType, d.channel, d.code, d.isAuto === undefined ? undefined : d.isAuto ? "automatic" : "manual"].filter((x) => x !== undefined);
      li.append(time, ` #${d.seq} `, name, what.length ? ` ${what.join(" · ")}` : "");
      funnel.appendChild(li);
      funnelEmpty.hidden = true;
    },
  };
}
