// Used by the end-to-end pre-flight test: frames preflight-check.html under this server's other
// loopback name (a second origin), with `allow` from the query (none by default), and publishes
// what the framed page's preflight() said in window.__result.
const q = new URLSearchParams(location.search);
const other = location.hostname === "localhost" ? "127.0.0.1" : "localhost";
const frame = document.getElementById("frame");
addEventListener("message", (e) => {
  if (e.source !== frame.contentWindow || !e.data || !e.data.preflight) return;
  window.__result = e.data.preflight;
  document.getElementById("out").textContent = JSON.stringify(window.__result, null, 2);
});
if (q.get("allow")) frame.setAttribute("allow", q.get("allow"));
frame.src = `${location.protocol}//${other}:${location.port}/preflight-check.html`;
