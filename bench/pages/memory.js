// 1,000 mount/destroy cycles, ten per task, in ten rounds of 100. After each round the page
// collects garbage (--expose-gc) and lets finalizers run, as a long-lived page eventually does:
// a Verification handle the page dropped is freed by wasm-bindgen's FinalizationRegistry.
// WebAssembly memory and JS heap after the first round (warm-up) and after the last.
import init, { mount } from "/pkg/gu1_kyc_web.js";
const cfg = JSON.parse(document.getElementById("cfg").textContent);
const wasm = await init();
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
const heap = () => (performance.memory ? performance.memory.usedJSHeapSize : null);
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    if (window.gc) window.gc();
    await tick(50);
  }
  return { wasm: wasm.memory.buffer.byteLength, heap: heap() };
};
const out = {};
for (let round = 0; round < 10; round++) {
  for (let n = 0; n < 10; n++) {
    for (let i = 0; i < 10; i++) mount({ container: "#kyc", ...cfg }).destroy();
    await tick();
  }
  const s = await settle();
  if (round === 0) out.warm = s;
  out.after = s;
}
out.iframes = document.querySelectorAll("iframe").length;
window.__memory = out;
