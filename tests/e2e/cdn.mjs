// Two loopback servers for the integrity and Trusted Types suites: an integrator's page origin,
// serving the page the test sets (with the CSP the test gives) and the check scripts of www/,
// and a CDN origin serving the built package (CORS open, as a CDN for npm packages does), whose
// files a test can replace with changed bytes. Both count the requests they answer.
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { extname, join, normalize } from "node:path";

const root = new URL("../../", import.meta.url).pathname;
/** The package as integrators get it (scripts/test.sh unpacks the tarball there). */
export const PACKAGE = process.env.GU1_PACKAGE_DIR || join(root, "target/pack/package");
const WWW = join(root, "www");

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
};

function listen(port, handle) {
  const server = createServer((req, res) => {
    try {
      handle(new URL(req.url, "http://x").pathname, res);
    } catch (e) {
      res.writeHead(e.code === "ENOENT" ? 404 : 500).end(String(e.message));
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

/** Starts the page origin on `port` and the CDN on `port + 1`. */
export async function start(port) {
  const hits = new Map();
  const count = (origin, path) => hits.set(`${origin}${path}`, (hits.get(`${origin}${path}`) || 0) + 1);
  const replaced = new Map();
  let page = { html: "<!doctype html>", csp: "default-src 'none'" };
  // no-store: every load is a fresh download, so a test sees what the server serves now.
  const send = (res, type, body, extra = {}) => res.writeHead(200, { "Content-Type": type, "Cache-Control": "no-store", ...extra }).end(body);

  const pageOrigin = `http://127.0.0.1:${port}`;
  const cdnOrigin = `http://127.0.0.1:${port + 1}`;
  const servers = [
    await listen(port, (path, res) => {
      count(pageOrigin, path);
      if (path === "/page") return send(res, TYPES[".html"], page.html, { "Content-Security-Policy": page.csp });
      // The check scripts.
      const file = normalize(path.slice(1));
      if (file.startsWith("..")) return res.writeHead(404).end();
      send(res, TYPES[extname(file)] || "application/octet-stream", readFileSync(join(WWW, file)));
    }),
    await listen(port + 1, (path, res) => {
      count(cdnOrigin, path);
      const cors = { "Access-Control-Allow-Origin": "*" };
      const file = normalize(path.replace(/^\/gu1-kyc-web@[^/]+\//, ""));
      if (file.startsWith("..") || file.startsWith("/")) return res.writeHead(404, cors).end();
      const body = replaced.get(file) || readFileSync(join(PACKAGE, file));
      send(res, TYPES[extname(file)] || "application/octet-stream", body, cors);
    }),
  ];
  return {
    page: pageOrigin,
    cdn: `${cdnOrigin}/gu1-kyc-web@0.1.0/`,
    /** Serves `html` at /page with this Content-Security-Policy. */
    setPage(html, csp) {
      page = { html, csp };
    },
    /** Serves `bytes` for the package file `file` from now on (null: the built file again). */
    replace(file, bytes) {
      if (bytes) replaced.set(file, bytes);
      else replaced.delete(file);
    },
    /** How many requests the CDN answered for the package file `file`. */
    cdnHits: (file) => hits.get(`${cdnOrigin}/gu1-kyc-web@0.1.0/${file}`) || 0,
    close: () => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))),
  };
}

/** The built package file `file` with one byte changed at the first `at` (a string it holds). */
export function changedByOneByte(file, at) {
  const bytes = Buffer.from(readFileSync(join(PACKAGE, file)));
  const i = bytes.indexOf(at);
  if (i < 0) throw new Error(`${file} does not hold ${JSON.stringify(at)}`);
  bytes[i] ^= 0x20; // the first letter's case
  return bytes;
}

/** The package's integrity.json. */
export const integrity = () => JSON.parse(readFileSync(join(PACKAGE, "integrity.json"), "utf8"));
