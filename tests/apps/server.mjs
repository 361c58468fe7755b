// A static server for the test apps, with what an integrator's backend adds: `GET /session` asks
// the simulator for a new verification (token, status URL, hosted page URL), as a backend would
// ask gu1 and mint a token (a POST's body goes to the simulator's control API as is). Serves .wasm as application/wasm unless told otherwise; `cors` adds
// Access-Control-Allow-Origin: * (a CDN serving npm packages does).
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
};

/** Serves `mounts` ({"/prefix/": dir}) on 127.0.0.1:port; resolves to the server once listening. */
export function serve(port, mounts, { sim, cors = false, wasmType = "application/wasm", pages = {} } = {}) {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    const headers = cors ? { "Access-Control-Allow-Origin": "*" } : {};
    try {
      if (url.pathname === "/session" && sim) {
        let body = "";
        for await (const chunk of req) body += chunk;
        const r = await fetch(`${sim}/__control/sessions`, { method: "POST", headers: { "Content-Type": "application/json" }, body: body || "{}" });
        res.writeHead(r.status, { "Content-Type": "application/json", "Cache-Control": "no-store" });
        return res.end(await r.text());
      }
      if (pages[url.pathname]) {
        res.writeHead(200, { "Content-Type": TYPES[".html"], "Cache-Control": "no-store" });
        return res.end(await pages[url.pathname](url));
      }
      for (const [prefix, dir] of Object.entries(mounts)) {
        if (!url.pathname.startsWith(prefix)) continue;
        let rel = normalize(decodeURIComponent(url.pathname.slice(prefix.length)));
        if (rel.startsWith("..")) break;
        if (rel === "." || rel.endsWith("/")) rel = join(rel, "index.html");
        const body = await readFile(join(dir, rel));
        const ext = extname(rel);
        res.writeHead(200, { ...headers, "Content-Type": ext === ".wasm" ? wasmType : TYPES[ext] || "application/octet-stream" });
        return res.end(body);
      }
      res.writeHead(404, headers).end("not found");
    } catch (e) {
      res.writeHead(e.code === "ENOENT" ? 404 : 500, headers).end(String(e.message));
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}
