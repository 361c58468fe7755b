// Used by the end-to-end integrity and Trusted Types suites: the npm import with no bundler, the
// way a page imports the package from a CDN as ES modules. The entry (index.js) from the base in
// <html data-pkg>, init() with its default wasm URL (next to the glue), one mount with the
// session in the other data- attributes; the outcome in window.__check.result.
const d = document.documentElement.dataset;
const check = window.__check;
try {
  const { default: init, mount } = await import(d.pkg + "index.js");
  await init();
  const v = mount({ container: "#kyc", statusUrl: d.statusUrl, token: d.token, sessionUrl: d.sessionUrl, pollIntervalMs: 300 });
  check.result = { status: (await v.completed).status };
} catch (e) {
  check.result = { error: String(e && e.message), name: e && e.name, code: e && e.code };
}
