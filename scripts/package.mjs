// Shapes pkg/ into the package integrators install, after scripts/build.sh has built it:
// package.json gets what registries, bundlers and the ecosystem's checks (publint,
// @arethetypeswrong/cli) read; the declarations type-check in a project whose `lib` lacks
// ESNext.Disposable; the drop-in gets declarations of its <gu1-kyc> element. Idempotent.
// Usage: node scripts/package.mjs [pkg-dir]
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { files as integrityOf } from "./integrity.mjs";

const esbuild = createRequire(import.meta.url)("../tools/node_modules/esbuild");

const dir = process.argv[2] || new URL("../pkg/", import.meta.url).pathname;
const read = (f) => readFileSync(join(dir, f), "utf8");
const write = (f, text) => writeFileSync(join(dir, f), text);

// package.json ------------------------------------------------------------------------------
const p = JSON.parse(read("package.json"));
// The bills of materials are written after this script, by scripts/sbom.mjs.
const files = ["index.js", "gu1_kyc_web_bg.wasm", "gu1_kyc_web.js", "gu1_kyc_web.d.ts", "gu1-kyc.js", "gu1-kyc.d.ts", "integrity.json", "sbom.cdx.json", "gu1_kyc_web_bg.wasm.cdx.json"];
const shaped = {
  name: p.name,
  version: p.version,
  description: p.description,
  keywords: [...new Set([...(p.keywords || []), "kyc", "identity-verification", "biometrics", "iframe", "webassembly", "custom-element", "gu1"])],
  license: p.license,
  repository: p.repository || { type: "git", url: "git+https://github.com/gu1-ai/gu1-kyc-web.git" },
  type: "module",
  // The module has no side effects on import (init() and mount() do the work); the drop-in
  // defines <gu1-kyc> when it runs, so a bundler must keep it when it is imported for that.
  sideEffects: ["./gu1-kyc.js"],
  main: "./index.js",
  module: "./index.js",
  types: "./gu1_kyc_web.d.ts",
  exports: {
    // index.js re-exports the glue (same names, same declarations) with mount() refusing clearly
    // outside a browser or before init() (js/entry.js).
    ".": { types: "./gu1_kyc_web.d.ts", default: "./index.js" },
    // A classic script (load it with <script src>), exported so bundlers and CDNs can give its URL.
    "./gu1-kyc.js": { types: "./gu1-kyc.d.ts", default: "./gu1-kyc.js" },
    // An asset, for `init({ module_or_path })` with a URL the application's bundler emits.
    "./gu1_kyc_web_bg.wasm": "./gu1_kyc_web_bg.wasm",
    // The SRI hashes of what a page loads, for a server that renders the script tag.
    "./integrity.json": "./integrity.json",
    "./package.json": "./package.json",
  },
  files,
};
write("package.json", JSON.stringify(shaped, null, 2) + "\n");

// index.js: the entry ------------------------------------------------------------------------
esbuild.buildSync({
  entryPoints: [new URL("../js/entry.js", import.meta.url).pathname],
  outfile: join(dir, "index.js"),
  format: "esm",
  minify: true,
  bundle: false,
  logLevel: "warning",
});

// gu1_kyc_web.d.ts --------------------------------------------------------------------------
// wasm-bindgen declares `[Symbol.dispose]()` on Verification (explicit resource management),
// which fails to type-check wherever `lib` stops short of ESNext.Disposable (ES2022 and DOM, as
// most app templates have it). Declaring the symbol makes it type-check everywhere; TypeScript
// merges it with the lib's identical declaration where the lib has it.
const dts = read("gu1_kyc_web.d.ts");
const DISPOSE = "\n// Symbol.dispose for projects whose `lib` has no ESNext.Disposable (Verification is disposable).\n" +
  "declare global {\n    interface SymbolConstructor {\n        readonly dispose: unique symbol;\n    }\n}\n";
if (dts.includes("[Symbol.dispose]()") && !dts.includes("readonly dispose: unique symbol")) write("gu1_kyc_web.d.ts", dts + DISPOSE);

// gu1-kyc.d.ts: the drop-in's element ---------------------------------------------------------
write(
  "gu1-kyc.d.ts",
  `// The <gu1-kyc> element that gu1-kyc.js defines. gu1-kyc.js is a classic script: load it with
// <script src=".../gu1-kyc.js" async>, next to gu1_kyc_web_bg.wasm (the glue is bundled in).
import type { Result, Verification } from "./gu1_kyc_web.js";

export interface Gu1KycElement extends HTMLElement {
    /** The token (the \`token\` attribute is read once, then removed from the DOM). */
    token: string | undefined;
    /** Called on 401 for a fresh token. */
    refreshToken: (() => string | Promise<string>) | undefined;
    /** The running verification; null before the wasm has loaded and after disconnect. */
    readonly verification: Verification | null;
    /** Polls now. */
    refresh(): void;
    /** Cancels through \`cancel-url\`. */
    cancel(): Promise<Result>;
    /** Opens the dialog again (\`mode="modal"\`) or the session in a new window (\`mode="window"\`,
     * or the fallback); call it from a click. */
    open(): void;
}

declare global {
    interface HTMLElementTagNameMap {
        "gu1-kyc": Gu1KycElement;
    }
    interface HTMLElementEventMap {
        "gu1kyc:mounted": CustomEvent<Verification>;
    }
}
`,
);

// integrity.json: the SRI hashes (sha384) of what a page loads, for `<script integrity>` (the
// drop-in), import maps' `integrity` (the npm entry and glue, unbundled) and checks. Written last,
// of the final files. The loaders carry the wasm's hash (scripts/build.sh): a build that lost it
// would load any wasm, so it is refused here.
const integrity = integrityOf(dir);
for (const f of ["gu1-kyc.js", "gu1_kyc_web.js"]) {
  if (!read(f).includes(integrity["gu1_kyc_web_bg.wasm"])) {
    console.error(`package: ${f} does not pin the wasm's ${integrity["gu1_kyc_web_bg.wasm"]}`);
    process.exit(1);
  }
}
write("integrity.json", JSON.stringify(integrity, null, 2) + "\n");

// The package's README shows the script tag with this version's `integrity` filled in (the
// repository's README has the placeholder `sha384-…`, which a hash changes with every build).
const readme = read("README.md");
if (readme.includes('integrity="sha384-…"')) write("README.md", readme.replaceAll('integrity="sha384-…"', `integrity="${integrity["gu1-kyc.js"]}"`));
