// A plain W3C WebDriver client for the engines Playwright cannot drive from Debian's packages:
// Firefox ESR (geckodriver) and WebKitGTK (WebKitWebDriver, under xvfb-run since it needs a
// display); Chromium (chromedriver) too, so one test can run in all three. Each driver runs in
// its own process group and the whole group is stopped, browser included: killed children are
// not reaped in the containers this runs in, so nothing may be left to the driver's own cleanup.
import { spawn, execSync } from "node:child_process";

const which = (cmd) => {
  try {
    return execSync(`command -v ${cmd}`, { encoding: "utf8" }).trim();
  } catch {
    return "";
  }
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The engines, each with how to start its driver on a port and the capabilities of a session. */
export const ENGINES = {
  chromium: {
    command: (port) => [which("chromedriver") || "/usr/bin/chromedriver", `--port=${port}`],
    caps: {
      browserName: "chrome",
      "goog:chromeOptions": {
        binary: "/usr/bin/chromium",
        args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
      },
    },
  },
  firefox: {
    command: (port) => [which("geckodriver"), "--port", String(port)],
    caps: { browserName: "firefox", "moz:firefoxOptions": { binary: which("firefox-esr") || which("firefox"), args: ["-headless"] } },
  },
  // WebKitWebDriver starts WebKitGTK's MiniBrowser in automation mode; empty capabilities are
  // what wasm-bindgen-test-runner sends too.
  webkit: {
    command: (port) => [which("xvfb-run"), "-a", which("WebKitWebDriver") || "/usr/bin/WebKitWebDriver", `--port=${port}`],
    caps: {},
  },
};

// Ports for drivers: from GU1_WEBDRIVER_PORT (default 27950), a block of 20 per test file (node
// --test may run files at once), one port per driver the file starts.
const BASE_PORT = Number(process.env.GU1_WEBDRIVER_PORT || 27950);
let nextPort = BASE_PORT;
/** Gives this test file block `n` (0, 1, 2, ...) of driver ports. */
export function portBlock(n) {
  nextPort = BASE_PORT + 20 * n;
}

async function call(port, method, path, body) {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const j = await r.json();
  if (!r.ok) throw new Error(`${method} ${path}: ${JSON.stringify(j.value)}`);
  return j.value;
}

const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

/** A browser session; `close()` ends it and stops its driver's process group. */
export class Browser {
  static async open(engine) {
    const spec = ENGINES[engine];
    // A driver that exits at once lost its port (these ports are in the system's ephemeral range,
    // so another process's connection may hold one): try the next one.
    for (let attempt = 1; ; attempt++) {
      const [bin, ...args] = spec.command(nextPort);
      if (!bin) throw new Error(`${engine}: driver not installed`);
      const port = nextPort++;
      const child = spawn(bin, args, { stdio: "ignore", detached: true });
      const exited = new Promise((r) => child.once("exit", r));
      const b = new Browser(port, child, exited);
      try {
        for (let i = 0; ; i++) {
          try {
            const s = await call(port, "GET", "/status");
            if (s.ready !== false) break;
          } catch (e) {
            if (child.exitCode !== null || child.signalCode !== null) throw Object.assign(new Error(`${engine} driver exited on port ${port}`), { exited: true });
            if (i > 150) throw new Error(`${engine} driver did not start: ${e.message}`);
          }
          await sleep(100);
        }
        b.id = (await call(port, "POST", "/session", { capabilities: { alwaysMatch: spec.caps } })).sessionId;
        return b;
      } catch (e) {
        await b.close();
        if (!e.exited || attempt >= 5) throw e;
      }
    }
  }

  constructor(port, child, exited) {
    this.port = port;
    this.child = child;
    this.exited = exited;
  }

  cmd(method, path, body) {
    return call(this.port, method, `/session/${this.id}${path}`, body);
  }
  go(url) {
    return this.cmd("POST", "/url", { url });
  }
  url() {
    return this.cmd("GET", "/url");
  }
  exec(script, ...args) {
    return this.cmd("POST", "/execute/sync", { script, args });
  }
  async find(css) {
    const found = await this.cmd("POST", "/elements", { using: "css selector", value: css });
    return found.length ? found[0] : null;
  }
  attr(el, name) {
    return this.cmd("GET", `/element/${el[ELEMENT]}/attribute/${name}`);
  }
  click(el) {
    return this.cmd("POST", `/element/${el[ELEMENT]}/click`, {});
  }
  /** Sizes the window so the page's viewport is `width` x `height` CSS pixels (as near as the
   * engine allows); returns the viewport it got. */
  async viewport(width, height) {
    let w = width, h = height, got;
    for (let i = 0; i < 3; i++) {
      await this.cmd("POST", "/window/rect", { width: w, height: h });
      got = await this.exec("return [document.documentElement.clientWidth, innerHeight];");
      // Grow the window by what its own chrome takes; a viewport wider or taller than asked is
      // the engine's minimum window size, which asking smaller does not change.
      if (got[0] >= width && got[1] >= height) break;
      w += Math.max(0, width - got[0]);
      h += Math.max(0, height - got[1]);
    }
    return got;
  }
  /** A PNG of the viewport. */
  async screenshot() {
    return Buffer.from(await this.cmd("GET", "/screenshot"), "base64");
  }
  enterFrame(el) {
    return this.cmd("POST", "/frame", { id: el });
  }
  leaveFrame() {
    return this.cmd("POST", "/frame/parent", {});
  }

  /** Polls `fn` until it returns something truthy; throws `what` after `ms`. */
  async until(what, fn, ms = 10_000) {
    const end = Date.now() + ms;
    let last;
    for (;;) {
      try {
        const v = await fn();
        if (v) return v;
      } catch (e) {
        last = e;
      }
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
      await sleep(100);
    }
  }

  async close() {
    if (this.id) await this.cmd("DELETE", "").catch(() => {});
    this.id = null;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const group = -this.child.pid;
    try {
      process.kill(group, "SIGTERM");
    } catch {}
    const gone = await Promise.race([this.exited.then(() => true), sleep(3000).then(() => false)]);
    // The group may outlive its leader (a browser process): make sure all of it is gone.
    try {
      process.kill(group, "SIGKILL");
    } catch {}
    if (!gone) await this.exited;
  }
}
