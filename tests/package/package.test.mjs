// The package as integrators and the ecosystem's tools get it: the `npm pack` tarball of pkg/
// (made by scripts/test.sh into target/pack/), checked by publint and @arethetypeswrong/cli,
// installed into a fresh `tsc --init` project whose declarations must type-check, and imported
// in plain Node. GU1_TARBALL names the tarball.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("../../", import.meta.url).pathname;
const bin = (name) => join(root, "tools/node_modules/.bin", name);
const TARBALL = process.env.GU1_TARBALL || join(root, "target/pack/gu1-kyc-web.tgz");
const work = join(root, "target/package-test");

const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { encoding: "utf8", ...opts });
const out = (r) => `${r.stdout}${r.stderr}`;

test("publint reports nothing on the tarball", () => {
  const r = run(bin("publint"), ["--strict", TARBALL]);
  assert.equal(r.status, 0, out(r));
  assert.match(r.stdout, /All good!/, out(r));
});

test("@arethetypeswrong/cli reports nothing on the tarball (ESM-only profile)", () => {
  // ESM only, by design: CommonJS consumers use import(). The wasm is an asset, not a module.
  const r = run(bin("attw"), [TARBALL, "--profile", "esm-only", "--exclude-entrypoints", "./gu1_kyc_web_bg.wasm", "--format", "json"]);
  assert.equal(r.status, 0, out(r));
  const report = JSON.parse(r.stdout);
  assert.deepEqual(report.analysis.problems.filter((p) => !["CJSResolvesToESM"].includes(p.kind)), [], r.stdout);
  const entries = Object.keys(report.analysis.entrypoints);
  assert.deepEqual(entries.sort(), [".", "./gu1-kyc.js", "./integrity.json", "./package.json"]);
});

test("package.json carries what registries and bundlers read", () => {
  const p = JSON.parse(execFileSync("tar", ["-xOzf", TARBALL, "package/package.json"], { encoding: "utf8" }));
  assert.equal(p.name, "gu1-kyc-web");
  assert.ok(p.description && p.license && p.repository?.url, "description, license, repository");
  assert.ok(p.keywords.includes("kyc") && p.keywords.length >= 5, "keywords");
  assert.equal(p.type, "module");
  assert.deepEqual(p.sideEffects, ["./gu1-kyc.js"], "the drop-in is the one file with side effects");
  assert.deepEqual(p.exports["."], { types: "./gu1_kyc_web.d.ts", default: "./index.js" }, "types first");
  assert.equal(p.exports["./gu1-kyc.js"].types, "./gu1-kyc.d.ts");
  const listed = execFileSync("tar", ["-tzf", TARBALL], { encoding: "utf8" }).trim().split("\n").sort();
  assert.deepEqual(
    listed,
    [
      "README.md",
      "gu1-kyc.d.ts",
      "gu1-kyc.js",
      "gu1_kyc_web.d.ts",
      "gu1_kyc_web.js",
      "gu1_kyc_web_bg.wasm",
      "gu1_kyc_web_bg.wasm.cdx.json",
      "index.js",
      "integrity.json",
      "package.json",
      "sbom.cdx.json",
    ].map((f) => `package/${f}`),
  );
});

test("integrity.json holds the sha384 of each file a page loads; both loaders pin the wasm's", () => {
  const file = (f) => execFileSync("tar", ["-xOzf", TARBALL, `package/${f}`]);
  const integrity = JSON.parse(file("integrity.json"));
  assert.deepEqual(Object.keys(integrity), ["gu1-kyc.js", "index.js", "gu1_kyc_web.js", "gu1_kyc_web_bg.wasm"]);
  for (const [f, value] of Object.entries(integrity)) {
    assert.equal(value, "sha384-" + createHash("sha384").update(file(f)).digest("base64"), f);
  }
  for (const f of ["gu1-kyc.js", "gu1_kyc_web.js"]) {
    assert.ok(file(f).toString().includes(`fetch(`) && file(f).toString().includes(`integrity:"${integrity["gu1_kyc_web_bg.wasm"]}"`), `${f} fetches the wasm with its integrity`);
  }
});

test("the bills of materials describe the files in the tarball and the crates of the lockfile", () => {
  const file = (f) => execFileSync("tar", ["-xOzf", TARBALL, `package/${f}`]);
  const sha384 = (bytes) => createHash("sha384").update(bytes).digest("hex");
  const wasm = JSON.parse(file("gu1_kyc_web_bg.wasm.cdx.json"));
  const npm = JSON.parse(file("sbom.cdx.json"));
  for (const bom of [wasm, npm]) {
    assert.equal(bom.bomFormat, "CycloneDX");
    assert.equal(bom.specVersion, "1.5");
    assert.doesNotMatch(JSON.stringify(bom), /file:\/\/\/|\/root\/|\/home\//, "no absolute path of the build machine");
  }
  // The wasm's: this wasm, the crates Cargo.lock resolves for it, and the standard library.
  assert.equal(wasm.metadata.component.hashes.find((h) => h.alg === "SHA-384").content, sha384(file("gu1_kyc_web_bg.wasm")));
  const lock = readFileSync(join(root, "Cargo.lock"), "utf8");
  const version = (name) => lock.match(new RegExp(`name = "${name}"\\nversion = "([^"]+)"`))[1];
  const linked = wasm.components.filter((c) => c.scope === "required").map((c) => `${c.name}@${c.version}`);
  for (const name of ["wasm-bindgen", "js-sys", "web-sys", "lol_alloc"]) assert.ok(linked.includes(`${name}@${version(name)}`), `${name} in the wasm's SBOM`);
  assert.ok(wasm.components.find((c) => c.name === "syn").scope === "excluded", "a proc macro is build-time only");
  const std = wasm.components.find((c) => c.name === "rust-std");
  assert.ok(["core", "alloc", "std", "dlmalloc"].every((n) => std.components.some((c) => c.name === n)), "the standard library's crates");
  // The package's: every shipped file (but the SBOMs) with its hash.
  const listed = execFileSync("tar", ["-tzf", TARBALL], { encoding: "utf8" }).trim().split("\n").map((f) => f.replace(/^package\//, ""));
  const expected = listed.filter((f) => f !== "package.json" && !f.endsWith(".cdx.json")).sort();
  assert.deepEqual(npm.components.map((c) => c.name), expected);
  for (const c of npm.components) assert.equal(c.hashes.find((h) => h.alg === "SHA-384").content, sha384(file(c.name)), c.name);
  assert.equal(npm.metadata.component.purl, "pkg:npm/gu1-kyc-web@0.1.0");
});

/** A fresh project (type: module, `tsc --init` defaults) with the tarball installed. */
function freshProject() {
  const dir = join(work, "fresh-ts");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "fresh", private: true, type: "module" }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", "--offline", TARBALL], { cwd: dir, stdio: "pipe" });
  execFileSync(bin("tsc"), ["--init"], { cwd: dir, stdio: "pipe" });
  return dir;
}

const USE = `import init, { mount, type MountOptions, type Result, type Snapshot, type KycError, type Verification } from "gu1-kyc-web";
import type { Gu1KycElement } from "gu1-kyc-web/gu1-kyc.js";
await init();
const options: MountOptions = {
  container: "#kyc", statusUrl: "/kyc/status", token: "t", refreshToken: async () => "t2",
  onComplete: (r: Result) => console.log(r.status, r.rejectionCode), onError: (e: KycError) => console.log(e.code, e.retrying),
};
const v: Verification = mount(options);
const s: Snapshot | null = v.status;
document.getElementById("kyc")!.addEventListener("gu1kyc:complete", (e) => console.log(e.detail.status));
const el: Gu1KycElement | null = document.querySelector("gu1-kyc");
el?.addEventListener("gu1kyc:mounted", (e) => e.detail.refresh());
console.log(s, (await v.completed).status, el?.verification?.status);
`;

test("declarations type-check in a fresh tsc --init project, with and without ESNext.Disposable", () => {
  const dir = freshProject();
  writeFileSync(join(dir, "index.ts"), USE);
  writeFileSync(join(dir, "dispose.ts"), `import { mount } from "gu1-kyc-web";\n{ using v = mount({ container: "#kyc", statusUrl: "/s" }); v.refresh(); }\n`);
  const tsc = (...args) => run(bin("tsc"), ["-p", ".", "--noEmit", ...args], { cwd: dir });
  // tsc --init's own settings (strict, exactOptionalPropertyTypes, nodenext, skipLibCheck).
  let r = tsc();
  assert.equal(r.status, 0, out(r));
  // The package's declarations themselves checked, not skipped.
  r = tsc("--skipLibCheck", "false");
  assert.equal(r.status, 0, out(r));
  // An app template's lib (ES2022 + DOM: no Symbol.dispose in the lib), `using` left out.
  rmSync(join(dir, "dispose.ts"));
  r = tsc("--skipLibCheck", "false", "--target", "es2022", "--lib", "es2022,dom");
  assert.equal(r.status, 0, out(r));
});

test("plain Node: importing throws nothing; mount() refuses clearly", () => {
  const dir = join(work, "fresh-ts");
  const script = `
    const m = await import("gu1-kyc-web");
    const kinds = [typeof m.default, typeof m.mount, typeof m.initSync, typeof m.Verification, typeof (await import("gu1-kyc-web/integrity.json", { with: { type: "json" } })).default["gu1-kyc.js"]].join();
    try { m.mount({ container: "#kyc", statusUrl: "/kyc/status" }); console.log("mounted?"); }
    catch (e) { console.log(JSON.stringify({ kinds, name: e.name, code: e.code, message: e.message })); }`;
  const r = run(process.execPath, ["--input-type=module", "-e", script], { cwd: dir });
  assert.equal(r.status, 0, out(r));
  assert.equal(r.stderr, "", "no warning or error on import");
  const e = JSON.parse(r.stdout);
  assert.equal(e.kinds, "function,function,function,function,string", "the exports, and integrity.json imported as JSON");
  assert.equal(e.name, "KycError");
  assert.equal(e.code, "CONTAINER_NOT_FOUND");
  assert.match(e.message, /needs a browser document/);
});
