// The README's recipes for frameworks that expect a custom element: <gu1-kyc> (the drop-in, loaded
// with a classic script from where the app hosts the package) in a Vue and a Svelte app, each
// bundled by Vite with its framework's plugin, and in an Angular app built by the Angular CLI
// (`ng build`: the application builder, AOT), each completing a verification in Chromium against
// the simulator (GU1_SIM_URL). Port: GU1_APPS_PORT + 6.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { launch } from "../e2e/chromium.mjs";
import { serve } from "./server.mjs";

const here = new URL(".", import.meta.url).pathname;
const SIM = process.env.GU1_SIM_URL || "http://127.0.0.1:27871";
const PORT = Number(process.env.GU1_APPS_PORT || 27960) + 6;

let server, browser;
before(async () => {
  server = await serve(
    PORT,
    {
      "/vue/": join(here, "vue/dist"),
      "/svelte/": join(here, "svelte/dist"),
      "/angular/": join(here, "angular/dist"),
      "/gu1-kyc-web/": join(here, "node_modules/gu1-kyc-web"),
    },
    { sim: SIM },
  );
  browser = await launch();
});
after(async () => {
  await browser?.close();
  server?.close();
});

/** Builds the app for /<app>/ with its framework's own tool: Vite, or the Angular CLI. */
function build(app) {
  const [tool, args] =
    app === "angular" ? ["ng", ["build", "--base-href", "/angular/"]] : ["vite", ["build", "--base", `/${app}/`, "--logLevel", "error"]];
  execFileSync(join(here, "node_modules/.bin", tool), args, { cwd: join(here, app), stdio: "pipe", env: { ...process.env, NO_COLOR: "1" } });
}

for (const app of ["vue", "svelte", "angular"]) {
  test(`${app}: <gu1-kyc> in a component completes, its events reach the component`, async (t) => {
    const started = Date.now();
    build(app);
    t.diagnostic(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const page = await browser.newPage();
    try {
      const errors = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`http://127.0.0.1:${PORT}/${app}/`);
      await page.waitForFunction(() => window.__result, null, { timeout: 20_000 });
      assert.deepEqual(await page.evaluate(() => window.__result), { status: "approved", iframes: 0 });
      assert.equal(await page.textContent("#status"), "approved", "the component's state followed the events");
      assert.equal(await page.locator("gu1-kyc[token]").count(), 0, "no token left in the DOM");
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });
}
