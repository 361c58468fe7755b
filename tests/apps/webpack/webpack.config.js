// webpack 5's defaults for a browser app; nothing specific to the package.
import { fileURLToPath } from "node:url";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
export default {
  mode: "production",
  context: here("."),
  entry: "./main.js",
  output: { path: here("./dist"), publicPath: "/webpack/", filename: "main.js", clean: true },
};
