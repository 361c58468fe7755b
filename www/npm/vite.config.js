import { defineConfig } from "vite";

// Served by gu1-kyc-proxy at /npm/ (same origin as the proxy's /kyc/* endpoints).
export default defineConfig({
  base: "/npm/",
  build: { outDir: "../npm-dist", emptyOutDir: true, target: "es2022", modulePreload: { polyfill: false } },
});
