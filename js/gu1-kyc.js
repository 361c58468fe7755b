// gu1-kyc-web drop-in: one classic <script src=".../gu1-kyc.js" async> and one element,
//   <gu1-kyc status-url="/kyc/status" token="…"></gu1-kyc>
// No build step. The wasm and its glue are loaded from next to this file; the wasm download
// starts as soon as this script runs, in parallel with the glue. The element mirrors mount()'s
// options as kebab-case attributes and dispatches the same gu1kyc:* DOM events.
(function () {
  "use strict";
  if (typeof window === "undefined" || !window.customElements || window.customElements.get("gu1-kyc")) return;

  var script = document.currentScript;
  var base = new URL(".", (script && script.src) || document.baseURI);
  var ready = null;

  function load() {
    if (!ready) {
      var wasm = fetch(new URL("gu1_kyc_web_bg.wasm", base));
      ready = import(new URL("gu1_kyc_web.js", base).href).then(function (glue) {
        return glue.default({ module_or_path: wasm }).then(function () {
          return glue;
        });
      });
    }
    return ready;
  }
  load();

  var NUMBERS = { "poll-interval-ms": "pollIntervalMs", "timeout-ms": "timeoutMs", "request-timeout-ms": "requestTimeoutMs" };
  var STRINGS = {
    "status-url": "statusUrl",
    "session-url": "sessionUrl",
    "cancel-url": "cancelUrl",
    allow: "allow",
    title: "title",
    height: "height",
  };

  class Gu1Kyc extends HTMLElement {
    constructor() {
      super();
      this._token = undefined;
      this._verification = null;
      this._generation = 0;
      /** Optional: `el.refreshToken = async () => "…"`, called on 401. */
      this.refreshToken = undefined;
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
      load().then(
        function (glue) {
          if (generation !== el._generation || !el.isConnected) return;
          el._mount(glue);
        },
        function (err) {
          el._fail("NETWORK", "gu1-kyc-web could not be loaded: " + (err && err.message ? err.message : err));
        },
      );
    }

    disconnectedCallback() {
      this._generation++;
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

    _mount(glue) {
      var options = { container: this };
      var name;
      for (name in STRINGS) if (this.hasAttribute(name)) options[STRINGS[name]] = this.getAttribute(name);
      for (name in NUMBERS) if (this.hasAttribute(name)) options[NUMBERS[name]] = Number(this.getAttribute(name));
      if (this._token !== undefined && this._token !== null) options.token = this._token;
      if (typeof this.refreshToken === "function") options.refreshToken = this.refreshToken;
      try {
        this._verification = glue.mount(options);
      } catch (err) {
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

  window.customElements.define("gu1-kyc", Gu1Kyc);
})();
