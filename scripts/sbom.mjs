// The package's bills of materials (CycloneDX 1.5 JSON), written by scripts/build.sh after
// package.mjs, byte for byte the same from any checkout of one commit:
//   pkg/gu1_kyc_web_bg.wasm.cdx.json  the crates of the wasm: cargo-cyclonedx's SBOM of the
//       client crate for wasm32, each crate marked by whether the release build compiles it into
//       the wasm (proc macros run at build time only: scope "excluded"), plus the standard
//       library the build rebuilds from the toolchain's rust-src (-Zbuild-std) and the crates.io
//       crates it links, all taken from cargo's unit graph of that very build;
//   pkg/sbom.cdx.json  npm's own SBOM of the package (no npm dependencies), with every shipped
//       file and its hashes, the wasm's pointing to the SBOM above.
// Paths of this checkout, the cargo home and the toolchain are written as relative names, the
// timestamp is the commit's (SOURCE_DATE_EPOCH, else the last commit's time), and no random
// serial number is written. RUSTFLAGS must be the release build's (build.sh exports them).
// Usage: node scripts/sbom.mjs
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

const root = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const pkg = join(root, "pkg");
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: root, encoding: "utf8", maxBuffer: 64 << 20, ...opts });

// The commit's time; none outside a git checkout (then the SBOMs carry no timestamp).
let epoch = process.env.SOURCE_DATE_EPOCH;
try {
  epoch ||= run("git", ["log", "-1", "--format=%ct"], { stdio: ["ignore", "pipe", "ignore"] }).trim();
} catch {}
const timestamp = epoch ? new Date(Number(epoch) * 1000).toISOString() : null;
const sysroot = run("rustc", ["--print", "sysroot"]).trim();
const rustSrc = join(sysroot, "lib/rustlib/src/rust");
const rustc = run("rustc", ["--version"]).split(" ")[1];

// Absolute paths of this machine, as they appear in package ids and purls, and their stand-ins.
const RELATIVE = [
  [`file://${rustSrc}`, "file://rust-src"],
  [`file://${root}`, "file://."],
];
const relative = (text) => RELATIVE.reduce((t, [from, to]) => t.split(from).join(to), text);

const hashes = (bytes) => [
  { alg: "SHA-256", content: createHash("sha256").update(bytes).digest("hex") },
  { alg: "SHA-384", content: createHash("sha384").update(bytes).digest("hex") },
];

/** `name`, `version` and `license` of a crate's [package] table (a plain line reader: enough for
 * the manifests cargo publishes and the standard library's own). */
function manifest(dir) {
  const out = {};
  let inPackage = false;
  for (const line of readFileSync(join(dir, "Cargo.toml"), "utf8").split("\n")) {
    if (/^\s*\[/.test(line)) inPackage = /^\s*\[package\]\s*$/.test(line);
    const m = inPackage && line.match(/^(name|version|license)\s*=\s*["']([^"']*)["']/);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/** The directory of the Cargo.toml above a crate's source file. */
function crateDir(srcPath) {
  for (let d = dirname(srcPath); d !== "/"; d = dirname(d)) if (existsSync(join(d, "Cargo.toml"))) return d;
  throw new Error(`no Cargo.toml above ${srcPath}`);
}

// The wasm's crates ---------------------------------------------------------------------------
// What the release build compiles for wasm32 (the units of scripts/build.sh's cargo build).
const graph = JSON.parse(
  run(
    "cargo",
    ["build", "--release", "--lib", "--target", "wasm32-unknown-unknown", "-Zbuild-std=std,panic_abort", "-Zunstable-options", "--unit-graph", "--frozen"],
    { env: { ...process.env, RUSTC_BOOTSTRAP: "1", CARGO_TARGET_DIR: join(root, "target/wasm-release") }, stdio: ["ignore", "pipe", "inherit"] },
  ),
);
const linked = new Map();
for (const u of graph.units) {
  if (u.platform === "wasm32-unknown-unknown" && u.mode === "build") linked.set(u.pkg_id, u.target.src_path);
}

// cargo-cyclonedx writes one SBOM beside each workspace member's manifest: read the client's.
const tmp = "sbom-build-tmp";
const written = [join(root, `${tmp}.json`), join(root, "proxy", `${tmp}.json`)];
// It resolves dependencies only: the release build's unstable RUSTFLAGS are left out (they
// change no dependency, and need RUSTC_BOOTSTRAP).
const { RUSTFLAGS, ...plain } = process.env;
let bom;
try {
  run("cargo", ["cyclonedx", "--manifest-path", "Cargo.toml", "-f", "json", "--spec-version", "1.5", "--target", "wasm32-unknown-unknown", "--override-filename", tmp, "-q"], {
    env: { ...plain, SOURCE_DATE_EPOCH: epoch || "0" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  bom = JSON.parse(readFileSync(written[0], "utf8"));
  if (timestamp) bom.metadata.timestamp = timestamp;
  else delete bom.metadata.timestamp;
} finally {
  for (const f of written) rmSync(f, { force: true });
}
if (!linked.has(bom.metadata.component["bom-ref"])) throw new Error(`the unit graph lacks ${bom.metadata.component["bom-ref"]}`);
const listed = new Set(bom.components.map((c) => c["bom-ref"]));
for (const c of bom.components) {
  // Proc macros and their dependencies run in the compiler only.
  if (!linked.has(c["bom-ref"])) c.scope = "excluded";
}

// The standard library (and the crates.io crates it links) rebuilt from rust-src.
const stdLock = readFileSync(join(rustSrc, "library/Cargo.lock"), "utf8");
const checksum = (name, version) => {
  const m = stdLock.match(new RegExp(`name = "${name}"\\nversion = "${version.replace(/[.+]/g, "\\$&")}"\\nsource = "[^"]*"\\nchecksum = "([0-9a-f]+)"`));
  return m && m[1];
};
const std = [];
for (const [id, src] of linked) {
  if (listed.has(id) || id === bom.metadata.component["bom-ref"]) continue;
  const m = manifest(crateDir(src));
  const fromRegistry = id.startsWith("registry+");
  const sum = fromRegistry && checksum(m.name, m.version);
  std.push({
    type: "library",
    "bom-ref": relative(id),
    name: m.name,
    version: m.version,
    scope: "required",
    ...(sum ? { hashes: [{ alg: "SHA-256", content: sum }] } : {}),
    // The library's crates without a licence field are under the Rust project's MIT OR Apache-2.0.
    licenses: [{ expression: (m.license || "MIT OR Apache-2.0").replace(/\//g, " OR ") }],
    ...(fromRegistry ? { purl: `pkg:cargo/${m.name}@${m.version}` } : {}),
  });
}
std.sort((a, b) => (a["bom-ref"] < b["bom-ref"] ? -1 : 1));
const stdRef = `rust-std@${rustc}`;
bom.components.push({
  type: "library",
  "bom-ref": stdRef,
  name: "rust-std",
  version: rustc,
  description: `The Rust standard library of rustc ${rustc}, rebuilt from its rust-src for this wasm (-Zbuild-std=std,panic_abort, immediate-abort panics), with the crates.io crates it links`,
  scope: "required",
  licenses: [{ expression: "MIT OR Apache-2.0" }],
  components: std,
});
bom.dependencies.find((d) => d.ref === bom.metadata.component["bom-ref"]).dependsOn.push(stdRef);
bom.dependencies.push({ ref: stdRef, dependsOn: std.map((c) => c["bom-ref"]) });
// The artifact this describes.
bom.metadata.component.hashes = hashes(readFileSync(join(pkg, "gu1_kyc_web_bg.wasm")));
writeFileSync(join(pkg, "gu1_kyc_web_bg.wasm.cdx.json"), relative(JSON.stringify(bom, null, 2)) + "\n");

// The npm package ------------------------------------------------------------------------------
const meta = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8"));
const npm = JSON.parse(run("npm", ["sbom", "--sbom-format", "cyclonedx", "--sbom-type", "library"], { cwd: pkg }));
delete npm.serialNumber;
if (timestamp) npm.metadata.timestamp = timestamp;
else delete npm.metadata.timestamp;
npm.metadata.component.name = meta.name; // npm names it after the directory
npm.components = ["README.md", ...meta.files]
  .filter((f) => !f.endsWith(".cdx.json"))
  .sort()
  .map((f) => ({
    type: "file",
    "bom-ref": `file:${f}`,
    name: f,
    hashes: hashes(readFileSync(join(pkg, f))),
    ...(f === "gu1_kyc_web_bg.wasm" ? { externalReferences: [{ type: "bom", url: "gu1_kyc_web_bg.wasm.cdx.json", comment: "the crates compiled into this file" }] } : {}),
  }));
writeFileSync(join(pkg, "sbom.cdx.json"), relative(JSON.stringify(npm, null, 2)) + "\n");
console.log(`sbom: the wasm's ${bom.components.length - 1} crates (${bom.components.filter((c) => c.scope === "excluded").length} build-time only) and the standard library's ${std.length}; the package's ${npm.components.length} files`);
