// Subresource Integrity for the package. `pin` runs in scripts/build.sh once the wasm is final:
// it prints the wasm's sha384 and writes it into the glue's init() fetch, so whatever loads the
// wasm by URL (the npm entry's default, a URL given to init()) gets the wasm this glue was built
// with or nothing; the drop-in gets the same hash through esbuild's --define. `files()` gives the
// hashes scripts/package.mjs writes to pkg/integrity.json.
// Usage: node scripts/integrity.mjs pin WASM GLUE
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** The SRI value of a file's bytes (sha384, as pages and fetch() take it). */
export function sri(path) {
  return "sha384-" + createHash("sha384").update(readFileSync(path)).digest("base64");
}

/** What a page loads from the package, pinned: the drop-in, the npm entry and glue, the wasm. */
export const PINNED = ["gu1-kyc.js", "index.js", "gu1_kyc_web.js", "gu1_kyc_web_bg.wasm"];

export function files(dir) {
  return Object.fromEntries(PINNED.map((f) => [f, sri(join(dir, f))]));
}

// wasm-bindgen's init() fetches a string, URL or Request with this one call (a Response, a
// compiled Module or bytes handed to init() are the caller's own and are left alone).
const GLUE_FETCH = "module_or_path = fetch(module_or_path);";

function pin(wasm, glue) {
  const hash = sri(wasm);
  const text = readFileSync(glue, "utf8");
  const at = text.split(GLUE_FETCH).length - 1;
  if (at !== 1) {
    console.error(`integrity: expected one \`${GLUE_FETCH}\` in ${glue}, found ${at} (did wasm-bindgen's glue change?)`);
    process.exit(1);
  }
  writeFileSync(glue, text.replace(GLUE_FETCH, `module_or_path = fetch(module_or_path, { integrity: ${JSON.stringify(hash)} });`));
  console.log(hash);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [cmd, ...args] = process.argv.slice(2);
  if (cmd === "pin" && args.length === 2) pin(...args);
  else {
    console.error("usage: node scripts/integrity.mjs pin WASM GLUE");
    process.exit(2);
  }
}
