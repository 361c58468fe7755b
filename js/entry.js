// The npm package's entry: the generated glue's exports, with mount() refusing clearly where it
// cannot work (no document: a server render, plain Node) or before init() has loaded the wasm,
// instead of failing inside the glue. Importing stays free of side effects, so a server render may
// import the package. scripts/package.mjs minifies this into pkg/index.js.
import glueInit, { initSync as glueInitSync, mount as glueMount, preflight as gluePreflight, Verification } from "./gu1_kyc_web.js";

let ready = false;

function refuse(message) {
  const e = new Error(message);
  e.name = "KycError";
  e.code = "CONTAINER_NOT_FOUND";
  throw e;
}

export default async function init(input) {
  const exports = await glueInit(input);
  ready = true;
  return exports;
}

export function initSync(input) {
  const exports = glueInitSync(input);
  ready = true;
  return exports;
}

function check(name) {
  if (typeof document === "undefined") refuse("container: " + name + "() needs a browser document; call it from client-side code (not during a server render)");
  if (!ready) refuse("container: call `await init()` before " + name + "()");
}

export function mount(options) {
  check("mount");
  return glueMount(options);
}

export function preflight(options) {
  check("preflight");
  return gluePreflight(options);
}

export { Verification };
