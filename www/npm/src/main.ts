// The npm-import page: what an app does with the package. Its backend (here the simulator's
// /demo/session, standing in for the integrator's) creates the session and mints the token.
import init, { mount, type MountOptions, type Result, type StepDetail, type Verification } from "gu1-kyc-web";
import { bindUi } from "../../ui.js";

interface SessionGrant {
  token: string;
  statusUrl: string;
  cancelUrl: string;
  sessionUrl: string | null;
}

const params = new URLSearchParams(location.search);
const container = document.getElementById("kyc") as HTMLDivElement;

async function grant(): Promise<SessionGrant> {
  const ttl = params.get("ttl");
  const body = { kind: params.get("kind") ?? "biometric", ...(ttl ? { ttlSecs: Number(ttl) } : {}) };
  const r = await fetch("/demo/session", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`could not start a session: ${r.status}`);
  return r.json();
}

let current: Verification | null = null;

async function start(onStep: (step: StepDetail) => void): Promise<void> {
  const g = await grant();
  const options: MountOptions = {
    container,
    statusUrl: "/kyc/status",
    cancelUrl: "/kyc/cancel",
    token: g.token,
    refreshToken: async () => (await grant()).token,
    pollIntervalMs: 1000,
    // The iframe as tall as the hosted page's content; the fallback if it never answers.
    height: "auto",
    readyTimeoutMs: 4000,
    onStep,
  };
  // ?frame=deny: the hosted page refuses to be framed (the simulator's knob), to see
  // readyTimeoutMs at work.
  if (params.get("frame") === "deny" && g.sessionUrl) options.sessionUrl = `${g.sessionUrl}?frame=deny`;
  current = mount(options);
  current.completed.then(
    (r: Result) => console.info("verification finished:", r.status),
    (e: Error & { code?: string }) => console.info("verification ended:", e.code),
  );
}

await init();
const ui = bindUi(container, {
  restart: async () => {
    if (current) {
      await current.cancel().catch(() => undefined);
      current.destroy();
    }
    location.assign(`/npm/?${params.toString()}&n=${Date.now()}`);
  },
});
await start((step) => ui.step(step));
