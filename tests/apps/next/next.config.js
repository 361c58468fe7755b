// Next.js defaults; the app lives inside the test tree, so its root is pinned here.
import { fileURLToPath } from "node:url";

export default { turbopack: { root: fileURLToPath(new URL("..", import.meta.url)) }, outputFileTracingRoot: fileURLToPath(new URL("..", import.meta.url)) };
