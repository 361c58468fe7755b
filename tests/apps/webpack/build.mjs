// Builds the webpack app with webpack's Node API (what webpack-cli does) and its static page.
import webpack from "webpack";
import { copyFileSync } from "node:fs";
import config from "./webpack.config.js";

const stats = await new Promise((resolve, reject) => webpack(config, (err, s) => (err ? reject(err) : resolve(s))));
if (stats.hasErrors() || stats.hasWarnings()) {
  console.error(stats.toString("errors-warnings"));
  process.exit(1);
}
copyFileSync(new URL("index.html", import.meta.url), new URL("dist/index.html", import.meta.url));
