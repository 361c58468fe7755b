// Used by the end-to-end integrity and Trusted Types suites (tests/e2e/integrity.test.mjs,
// trusted-types.test.mjs), loaded first by their pages: records in window.__check what the page
// sees from then on: CSP violations (Trusted Types' included), scripts the browser refused to
// run, uncaught errors and rejections, every iframe ever inserted, and the gu1kyc:* events of
// every element.
(function () {
  "use strict";
  var check = (window.__check = { violations: [], refusedScripts: [], errors: [], iframes: 0, events: [] });
  // A page marked data-tt-probe asks whether the engine enforces its Trusted Types policy: a
  // string written into an HTML sink must be refused (the one violation such a page records).
  if (document.documentElement.hasAttribute("data-tt-probe")) {
    try {
      document.createElement("b").innerHTML = "x";
      check.trustedTypes = false;
    } catch (e) {
      check.trustedTypes = e instanceof TypeError;
    }
  }
  document.addEventListener("securitypolicyviolation", function (e) {
    check.violations.push(e.violatedDirective + " " + e.blockedURI);
  });
  // A script refused for its integrity fires `error` on its element, which does not bubble:
  // caught on the way down.
  window.addEventListener(
    "error",
    function (e) {
      if (e.target && e.target.tagName === "SCRIPT") check.refusedScripts.push(e.target.src);
      else if (e.target === window) check.errors.push(String(e.message));
    },
    true,
  );
  window.addEventListener("unhandledrejection", function (e) {
    check.errors.push("unhandled rejection: " + String(e.reason && e.reason.message ? e.reason.message : e.reason));
  });
  new MutationObserver(function (records) {
    records.forEach(function (r) {
      r.addedNodes.forEach(function (n) {
        if (n.nodeName === "IFRAME" || (n.querySelector && n.querySelector("iframe"))) check.iframes++;
      });
    });
  }).observe(document, { childList: true, subtree: true });
  ["gu1kyc:mounted", "gu1kyc:ready", "gu1kyc:status", "gu1kyc:complete", "gu1kyc:error"].forEach(function (type) {
    document.addEventListener(type, function (e) {
      var d = type === "gu1kyc:mounted" ? {} : e.detail || {};
      check.events.push({ type: type, el: e.target.id, code: d.code, message: d.message, retrying: d.retrying, status: d.status });
    });
  });
})();
