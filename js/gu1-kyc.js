// gu1-kyc-web drop-in: one classic <script src=".../gu1-kyc.js" async> and one element,
//   <gu1-kyc status-url="/kyc/status" token="…"></gu1-kyc>
// No build step for the page. scripts/build.sh bundles this file with the package's glue into
// one classic script (pkg/gu1-kyc.js), so the page fetches two files: this script and the wasm,
// from next to it; the wasm download starts in the task right after the one that runs this
// script. The element mirrors mount()'s options as kebab-case attributes and dispatches the same
// gu1kyc:* DOM events.
// With a `session-url` (and no `allow` override) the element puts the hosted iframe in place as
// soon as it connects, before the wasm has arrived; mount() then adopts that iframe (same src,
// allow and referrerpolicy) instead of loading the hosted page a second time. The URL rule here is
// the library's own (https:, or http: on a loopback host, no credentials); mount() checks it again.
import { initSync, mount } from "../pkg/gu1_kyc_web.js";

(function () {
  "use strict";
  if (typeof window === "undefined" || !window.customElements || window.customElements.get("gu1-kyc")) return;

  var script = document.currentScript;
  var base = new URL(".", (script && script.src) || document.baseURI);
  var ready = null;

  function load() {
    if (!ready) {
      // Only the wasm this script was built with: scripts/build.sh writes its sha384 here, so a
      // page that pins this script with `integrity` pins the whole library. The browser checks
      // the body before handing the response over (a mismatch, a failed download and an error
      // page all reject alike, as the network errors the Fetch standard makes of them), so a
      // changed wasm is never compiled. Streaming compilation refuses a wasm not sent as
      // application/wasm without reading it: the body is then read whole and compiled (a failed
      // download is not fetched again here; the next connect does that). Compiling here and
      // instantiating with initSync() keeps the glue's own loading code out of this script.
      ready = fetch(new URL("gu1_kyc_web_bg.wasm", base), { integrity: GU1_WASM_INTEGRITY })
        .then(function (r) {
          return WebAssembly.compileStreaming(r).catch(function (e) {
            if (r.bodyUsed) throw e;
            return r.arrayBuffer().then(WebAssembly.compile);
          });
        })
        .then(function (module) {
          initSync({ module: module });
        });
      // A failed load is not kept: the next connect (or element) downloads again.
      ready.catch(() => (ready = null));
    }
    return ready;
  }

  // Runs `f` in a task of its own, ahead of the page's other queued tasks where the browser has
  // prioritised tasks (else in the next one). The first fetch() of a fresh page and init() cost
  // several milliseconds of main thread: run in the task that has just put the early iframe in
  // place, they would hold back its navigation and first paint.
  function soon(f) {
    var s = window.scheduler;
    return s && s.postTask ? s.postTask(f, { priority: "user-blocking" }) : new Promise(function (r) { setTimeout(r); }).then(f);
  }

  var LOOPBACK = ["localhost", "127.0.0.1", "[::1]"];

  // Puts the hosted iframe in place before the wasm loads (marked `early`, then `loaded`), unless
  // one is there already or the URL is not one the library would mount (mount() then says why).
  function earlyFrame(el) {
    var raw = el.getAttribute("session-url"), mode = el.getAttribute("mode");
    // Only the inline mode shows an iframe in the element; mount() runs the camera pre-flight.
    if (!raw || raw.length > 8192 || el.hasAttribute("allow") || (mode && mode !== "inline")) return null;
    if (el.querySelector(":scope > iframe[data-gu1-kyc]")) return null; // mount() sorts it out
    var u;
    try {
      u = new URL(raw);
    } catch (e) {
      return null;
    }
    var ok = u.protocol === "https:" ? u.hostname !== "" : u.protocol === "http:" && LOOPBACK.indexOf(u.hostname) >= 0;
    if (!ok || u.username || u.password) return null;
    var f = document.createElement("iframe");
    f.setAttribute("allow", "camera; microphone; fullscreen; autoplay; encrypted-media");
    f.setAttribute("referrerpolicy", "strict-origin-when-cross-origin");
    f.setAttribute("data-gu1-kyc", "early");
    f.title = el.getAttribute("title") || "Identity verification";
    f.style.setProperty("display", "block");
    f.style.setProperty("width", "100%");
    f.style.setProperty("height", el.getAttribute("height") || "700px");
    f.style.setProperty("border", "0");
    f.addEventListener("load", function () { f.setAttribute("data-gu1-kyc", "loaded"); }, { once: true });
    f.src = u.href;
    el.appendChild(f);
    return f;
  }

  var NUMBERS = { "poll-interval-ms": "pollIntervalMs", "timeout-ms": "timeoutMs", "request-timeout-ms": "requestTimeoutMs", "wait-seconds": "waitSeconds" };
  var STRINGS = {
    "status-url": "statusUrl",
    "session-url": "sessionUrl",
    "cancel-url": "cancelUrl",
    allow: "allow",
    title: "title",
    height: "height",
    mode: "mode",
    fallback: "fallback",
  };
  var LABELS = { "label-button": "button", "label-explanation": "explanation", "label-close": "close" };

  class Gu1Kyc extends HTMLElement {
    constructor() {
      super();
      // A framework may have set these on the element before this script ran (an upgrade): they
      // are then own properties that would hide the class's, so take their values over.
      var token = this.token;
      var refresh = this.refreshToken;
      delete this.token;
      this._token = token;
      this._verification = null;
      this._generation = 0;
      /** Optional: `el.refreshToken = async () => "…"`, called on 401. */
      this.refreshToken = refresh;
    }

    /** The token; the `token` attribute is read once and removed so it does not stay in the DOM. */
    get token() {
      return this._token;
    }
    set token(value) {
      this._token = value;
    }

    /** The running Verification (null before the wasm has loaded or after disconnect). */
    get verification() {
      return this._verification;
    }

    connectedCallback() {
      if (this.hasAttribute("token")) {
        this._token = this.getAttribute("token");
        this.removeAttribute("token");
      }
      var generation = ++this._generation;
      var el = this;
      if (!this._verification) earlyFrame(this);
      soon(load).then(
        function () {
          if (generation !== el._generation || !el.isConnected) return;
          el._mount();
        },
        function (err) {
          el._dropEarly();
          el._fail("NETWORK", "gu1-kyc-web could not be loaded (the wasm did not download, or is not the one " + GU1_WASM_INTEGRITY + "): " + (err && err.message ? err.message : err));
        },
      );
    }

    disconnectedCallback() {
      this._generation++;
      this._dropEarly();
      if (this._verification) {
        this._verification.destroy();
        this._verification = null;
      }
    }

    /** Polls now. */
    refresh() {
      if (this._verification) this._verification.refresh();
    }

    /** Cancels through `cancel-url`. */
    cancel() {
      return this._verification ? this._verification.cancel() : Promise.reject(new Error("not mounted"));
    }

    /** Opens the dialog again, or the session in a new window (call it from a click). */
    open() {
      if (this._verification) this._verification.open();
    }

    /** Removes the iframe put in place before mount when no verification took it. */
    _dropEarly() {
      var f = this._verification ? null : this.querySelector(":scope > iframe[data-gu1-kyc]");
      if (f) f.remove();
    }

    _mount() {
      var options = { container: this };
      var name;
      for (name in STRINGS) if (this.hasAttribute(name)) options[STRINGS[name]] = this.getAttribute(name);
      for (name in NUMBERS) if (this.hasAttribute(name)) options[NUMBERS[name]] = Number(this.getAttribute(name));
      for (name in LABELS) if (this.hasAttribute(name)) (options.labels = options.labels || {})[LABELS[name]] = this.getAttribute(name);
      if (this._token !== undefined && this._token !== null) options.token = this._token;
      if (typeof this.refreshToken === "function") options.refreshToken = this.refreshToken;
      try {
        this._verification = mount(options);
      } catch (err) {
        this._dropEarly();
        this._fail(err && err.code ? err.code : "INVALID_OPTIONS", err && err.message ? err.message : String(err));
        return;
      }
      this.dispatchEvent(new CustomEvent("gu1kyc:mounted", { bubbles: true, composed: true, detail: this._verification }));
    }

    _fail(code, message) {
      this.dispatchEvent(
        new CustomEvent("gu1kyc:error", { bubbles: true, composed: true, detail: { code: code, message: message, retrying: false } }),
      );
    }
  }

  // Defining upgrades the elements already parsed (their iframes go in first), then the wasm
  // download starts, in the next task, whether or not an element exists yet.
  window.customElements.define("gu1-kyc", Gu1Kyc);
  soon(load).catch(function () {});
})();
