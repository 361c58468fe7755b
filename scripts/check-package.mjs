// Checks the built package as an integrator receives it: the files, the package name, and
// typed (not `any`) options and results in the declarations.
import { readFileSync, existsSync } from "node:fs";

const pkg = new URL("../pkg/", import.meta.url);
const problems = [];
for (const f of ["gu1_kyc_web_bg.wasm", "gu1_kyc_web.js", "gu1_kyc_web.d.ts", "package.json"]) {
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
  const publicPart = dts.split("export type InitInput")[0];
  const anys = publicPart.split("\n").filter((l) => /\bany\b/.test(l));
  if (anys.length) problems.push(`public declarations use any:\n  ${anys.join("\n  ")}`);
}
if (problems.length) {
  console.error("package check failed:\n- " + problems.join("\n- "));
  process.exit(1);
}
console.log("package check: pkg/ has the wasm, the JS, typed declarations and the right name");
