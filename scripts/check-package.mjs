// Checks the built package as an integrator receives it: the files, the package name, typed
// (not `any`) options and results in the declarations, and integrity.json: the SRI hash of every
// file a page loads, and the wasm's in both loaders.
import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PINNED, sri } from "./integrity.mjs";

const pkg = new URL("../pkg/", import.meta.url);
const problems = [];
for (const f of ["gu1_kyc_web_bg.wasm", "gu1_kyc_web.js", "gu1_kyc_web.d.ts", "package.json", "integrity.json", ...PINNED]) {
  if (!existsSync(new URL(f, pkg))) problems.push(`missing pkg/${f}`);
}
if (problems.length === 0) {
  const meta = JSON.parse(readFileSync(new URL("package.json", pkg), "utf8"));
  if (meta.name !== "gu1-kyc-web") problems.push(`package name is ${meta.name}`);
  const dts = readFileSync(new URL("gu1_kyc_web.d.ts", pkg), "utf8");
  const expect = [
    /export function mount\(options: MountOptions\): Verification;/,
    /export interface MountOptions \{/,
    /export interface Snapshot \{/,
    /export interface Result extends Snapshot/,
    /readonly completed: Promise<Result>;/,
    /readonly status: Snapshot \| null;/,
    /cancel\(\): Promise<Result>;/,
    /refresh\(\): void;/,
    /destroy\(\): void;/,
    /open\(\): void;/,
    /export function preflight\(options: \{ sessionUrl: string \}\): Promise<PreflightResult>;/,
    /mode\?: "inline" \| "modal" \| "window";/,
  ];
  for (const re of expect) if (!re.test(dts)) problems.push(`d.ts lacks ${re}`);
  const integrity = JSON.parse(readFileSync(new URL("integrity.json", pkg), "utf8"));
  const path = (f) => fileURLToPath(new URL(f, pkg));
  if (JSON.stringify(Object.keys(integrity)) !== JSON.stringify(PINNED)) problems.push(`integrity.json lists ${Object.keys(integrity)}`);
  for (const f of PINNED) if (integrity[f] !== sri(path(f))) problems.push(`integrity.json: ${f} is not ${integrity[f]}`);
  for (const f of ["gu1-kyc.js", "gu1_kyc_web.js"]) {
    if (!readFileSync(path(f), "utf8").includes(`integrity:"${integrity["gu1_kyc_web_bg.wasm"]}"`)) problems.push(`${f} does not fetch the wasm with its integrity`);
  }
  if (!meta.files.includes("integrity.json")) problems.push("package.json files lacks integrity.json");
  const publicPart = dts.split("export type InitInput")[0];
  const anys = publicPart.split("\n").filter((l) => /\bany\b/.test(l));
  if (anys.length) problems.push(`public declarations use any:\n  ${anys.join("\n  ")}`);
}
if (problems.length) {
  console.error("package check failed:\n- " + problems.join("\n- "));
  process.exit(1);
}
console.log("package check: pkg/ has the wasm, the JS, typed declarations, the right name and integrity.json");
