// Shared by the Playwright end-to-end files: the demo proxy's address and a headless launch of
// Debian's Chromium with the flags every file uses (plus any a file adds).
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { chromium } = require("../../tools/node_modules/playwright-core");

export const BASE = process.env.GU1_DEMO_URL || "http://127.0.0.1:27881";

export function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", ...extraArgs],
  });
}
