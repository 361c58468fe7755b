// Empties the function-table slots that nothing can call, so the optimiser can drop what they
// hold. Input: wasm-bindgen's output (names kept); output: the same module as text, for wasm-opt.
//
// Why the slots exist: the linker puts a function in the table when its address is taken, and
// wasm-bindgen's descriptors take the address of every closure invoke shim of every js-sys import
// that has a callback parameter (Array.forEach, TypedArray.forEach, Promise constructors, ...)
// and of js-sys's task waker. wasm-bindgen reads the descriptors and deletes them, but it keeps
// the table whole, so these functions stay linked although nothing can reach them:
// - `wasm_bindgen::convert::closures::_::invoke::<..>`: wasm-bindgen 0.2.129 calls a closure's
//   invoke shim from JavaScript through an export of its own (one per signature used); it never
//   reaches an invoke shim through the table;
// - `js_sys::futures::..`: the waker of js-sys's executor, which this library does not use (no
//   async code; the check below fails if anything of it is exported).
// Each such slot is pointed at one function that traps (`unreachable`): a call through it, were the
// reasoning above ever wrong, stops loudly instead of running the wrong code, and every suite runs
// on the pruned build.
//
// Usage: node scripts/prune-table.mjs <in.wasm> <out.wat>   (wasm-dis on PATH)
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";

function fail(msg) {
  console.error(`prune-table: ${msg}`);
  process.exit(1);
}

const [input, output] = process.argv.slice(2);
if (!input || !output) fail("usage: prune-table.mjs <in.wasm> <out.wat>");

const work = mkdtempSync(join(tmpdir(), "prune-table-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));
const text = join(work, "in.wat");
const dis = spawnSync("wasm-dis", [input, "-o", text], { encoding: "utf8" });
if (dis.error) fail(`cannot run wasm-dis: ${dis.error.message}`);
if (dis.status !== 0) fail(`wasm-dis failed (${dis.status}):\n${dis.stderr.slice(0, 2000)}`);
const lines = readFileSync(text, "utf8").split("\n");

// A name in binaryen's text: `$plain` or `$"quoted, with \" escapes"`.
const NAME = /\$"(?:[^"\\]|\\.)*"|\$[^\s()"]+/g;
const unquote = (n) => (n.startsWith('$"') ? n.slice(2, -1) : n.slice(1));
const DEAD = [/^wasm_bindgen\[[0-9a-f]+\]::convert::closures::_::invoke::</, /^js_sys\[[0-9a-f]+\]::futures::/];
const STUB = "$__gu1_dead_slot";

const exports = lines.filter((l) => l.startsWith(" (export "));
for (const e of exports) {
  if (/futures/.test(e)) fail(`an export belongs to js-sys's futures, whose table slots this prunes:\n${e}`);
}
const at = lines.findIndex((l) => l.startsWith(" (elem "));
if (at < 0) fail("no element segment: nothing to prune (did wasm-bindgen's output change?)");
if (lines.slice(at + 1).some((l) => l.startsWith(" (elem "))) fail("more than one element segment");
const elem = lines[at];
const offset = elem.match(/^ \(elem (?:\$\S+ )?\(i32\.const \d+\) /);
if (!offset) fail(`unexpected element segment: ${elem.slice(0, 200)}`);
const slots = elem.slice(offset[0].length).match(NAME) ?? [];
if (slots.every((s) => /^\$\d+$/.test(s) || /^\$fimport\$/.test(s))) {
  fail("the module has no function names (build with wasm-bindgen's name section kept)");
}
let pruned = 0;
const kept = slots.map((s) => {
  if (!DEAD.some((re) => re.test(unquote(s)))) return s;
  pruned++;
  return STUB;
});
lines[at] = `${offset[0]}${kept.join(" ")})`;
const firstFunc = lines.findIndex((l) => l.startsWith(" (func "));
if (firstFunc < 0) fail("no function definitions");
lines.splice(firstFunc, 0, ` (func ${STUB}`, "  (unreachable)", " )");
writeFileSync(output, lines.join("\n"));
console.error(`prune-table: ${pruned} of ${slots.length} table slots emptied`);
