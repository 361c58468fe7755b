// Shortens the names on the JS/wasm boundary of the built package: binaryen's
// --minify-imports-and-exports-and-modules renames every import (and merges the import modules
// into one) and every export of the wasm and prints the old -> new mapping; this script applies
// that mapping to wasm-bindgen's generated glue by tokenizing it (no patterns over particular
// names), and fails, writing nothing, unless every import and export of the wasm is found in the
// glue and everything the glue names is in the wasm.
//
// Usage: node scripts/minify-names.mjs <wasm> <glue.js> [--keep NAME]... [--dts <bg.wasm.d.ts>]
//                                      -- <wasm-opt feature flags>
//   --keep NAME  an export that keeps its name (read by pages from the object init() returns)
//   --dts FILE   wasm-bindgen's declarations of the raw exports, renamed to match
// The feature flags are the ones the wasm was optimised with (wasm-opt must be on PATH).
//
// In the glue (wasm-bindgen 0.2.129, --target web):
// - exports are read as `wasm.NAME` (or `wasm["NAME"]`), where `wasm` is the binding assigned
//   `instance.exports`; every such access is renamed;
// - imports are the properties of object literals, one per module, that the object handed to
//   WebAssembly.instantiate maps module names to (`{ __proto__: null, "./x_bg.js": import0 }`);
//   a module bound by `import * as importN` (a snippet) has its functions copied into the single
//   minified module by name.
// Before writing, the rewritten glue's import object is checked against the minified wasm by
// instantiating it (no code runs: wasm-bindgen uses no start section).
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join, dirname, basename } from "node:path";
import { pathToFileURL } from "node:url";

// Exports of wasm-bindgen's runtime that the glue only reads in some configurations (the
// abort/reinit machinery of panic=unwind or --force-enable-abort-handler builds). Any other
// export the glue does not reference is an error.
const RUNTIME_ONLY = new Set(["__instance_terminated", "__abort_handler"]);

function fail(msg) {
  console.error(`minify-names: ${msg}`);
  process.exit(1);
}

// ---- arguments ----
const args = process.argv.slice(2);
const sep = args.indexOf("--");
const own = sep < 0 ? args : args.slice(0, sep);
const wasmOptFlags = sep < 0 ? [] : args.slice(sep + 1);
const keep = new Set();
let dtsPath = null;
const positional = [];
for (let i = 0; i < own.length; i++) {
  if (own[i] === "--keep") keep.add(own[++i]);
  else if (own[i] === "--dts") dtsPath = own[++i];
  else positional.push(own[i]);
}
if (positional.length !== 2 || [...keep].some((k) => !k) || dtsPath === undefined) {
  fail("usage: minify-names.mjs <wasm> <glue.js> [--keep NAME]... [--dts FILE] -- <wasm-opt flags>");
}
const [wasmPath, gluePath] = positional;

// ---- the wasm: binaryen's pass and its mapping ----
const origBytes = readFileSync(wasmPath);
const origModule = new WebAssembly.Module(origBytes);
const origImports = WebAssembly.Module.imports(origModule);
const origExports = WebAssembly.Module.exports(origModule);

const work = mkdtempSync(join(tmpdir(), "minify-names-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));
const minPath = join(work, "min.wasm");
// The optimisation levels only make the writer optimise its stack IR as the -Oz build did; no
// optimisation pass runs (without them a plain round trip grows the code section).
const run = spawnSync(
  "wasm-opt",
  [wasmPath, ...wasmOptFlags, "--optimize-level=2", "--shrink-level=2",
   "--minify-imports-and-exports-and-modules", "-o", minPath],
  { encoding: "utf8", maxBuffer: 64 << 20 },
);
if (run.error) fail(`cannot run wasm-opt: ${run.error.message}`);
if (run.status !== 0) fail(`wasm-opt failed (${run.status}):\n${run.stderr.slice(0, 3000)}`);
let mapping;
try {
  mapping = JSON.parse(run.stdout);
} catch (e) {
  fail(`wasm-opt did not print the JSON mapping (${e.message}); stdout was:\n${run.stdout.slice(0, 2000)}`);
}
if (!Array.isArray(mapping?.imports) || !Array.isArray(mapping?.exports)) {
  fail("the mapping lacks its imports or exports list");
}
const importMap = new Map(); // module -> Map(name -> new name)
for (const e of mapping.imports) {
  if (!Array.isArray(e) || e.length !== 3 || !e.every((s) => typeof s === "string")) fail(`bad import mapping ${JSON.stringify(e)}`);
  const [module, name, to] = e;
  if (!importMap.has(module)) importMap.set(module, new Map());
  importMap.get(module).set(name, to);
}
const exportMap = new Map();
for (const e of mapping.exports) {
  if (!Array.isArray(e) || e.length !== 2 || !e.every((s) => typeof s === "string")) fail(`bad export mapping ${JSON.stringify(e)}`);
  exportMap.set(e[0], e[1]);
}
for (const { module, name } of origImports) {
  if (!importMap.get(module)?.has(name)) fail(`the mapping lacks import ${module} ${name}`);
}
for (const { name } of origExports) if (!exportMap.has(name)) fail(`the mapping lacks export ${name}`);
for (const k of keep) {
  if (!exportMap.has(k)) fail(`--keep ${k}: the wasm has no such export`);
}

// Kept exports get their names back in the binary's export section.
let minBytes = readFileSync(minPath);
if (keep.size) {
  const back = new Map([...keep].map((k) => [exportMap.get(k), k]));
  const taken = new Set(WebAssembly.Module.exports(new WebAssembly.Module(minBytes)).map((e) => e.name));
  for (const k of keep) {
    if (taken.has(k) && exportMap.get(k) !== k) fail(`--keep ${k}: another export was minified to that name`);
  }
  minBytes = renameExports(minBytes, back);
  for (const k of keep) exportMap.set(k, k);
}

// The minified wasm must have exactly the mapped imports (in one module) and exports.
const minModule = new WebAssembly.Module(minBytes);
const minImports = WebAssembly.Module.imports(minModule);
const minExports = WebAssembly.Module.exports(minModule);
const modules = [...new Set(minImports.map((i) => i.module))];
if (modules.length > 1) fail(`the minified wasm imports from several modules: ${modules.join(", ")}`);
const newModule = modules[0];
const sig = (list) => list.map((x) => JSON.stringify(x)).sort().join("\n");
const expectImports = origImports.map((i) => ({ module: newModule, name: importMap.get(i.module).get(i.name), kind: i.kind }));
const expectExports = origExports.map((e) => ({ name: exportMap.get(e.name), kind: e.kind }));
if (sig(expectImports) !== sig(minImports)) fail("the minified wasm's imports do not match the mapping");
if (sig(expectExports) !== sig(minExports)) fail("the minified wasm's exports do not match the mapping");

// ---- the glue ----
const glue = readFileSync(gluePath, "utf8");
const toks = tokenize(glue);
const edits = [];
const IDENT_NAME = /^[\p{ID_Start}$_][\p{ID_Continue}$\u200c\u200d]*$/u;
const propKey = (name) => (IDENT_NAME.test(name) ? name : JSON.stringify(name));
const propGet = (obj, name) => (IDENT_NAME.test(name) ? `${obj}.${name}` : `${obj}[${JSON.stringify(name)}]`);
const is = (t, type, value) => t && t.type === type && (value === undefined || t.value === value);
const punct = (t, v) => is(t, "punct", v);

// Exports: the binding(s) assigned `<x>.exports`.
const bindings = new Set();
for (let i = 0; i + 4 < toks.length; i++) {
  if (is(toks[i], "ident") && !punct(toks[i - 1], ".") && punct(toks[i + 1], "=") && is(toks[i + 2], "ident")
      && punct(toks[i + 3], ".") && is(toks[i + 4], "ident", "exports")) {
    bindings.add(toks[i].value);
  }
}
if (bindings.size !== 1) fail(`expected one binding assigned instance.exports in the glue, found ${bindings.size ? [...bindings].join(", ") : "none"}`);
const [wasmVar] = bindings;
const referenced = new Set();
for (let i = 0; i < toks.length; i++) {
  const t = toks[i];
  if (!is(t, "ident", wasmVar) || punct(toks[i - 1], ".") || punct(toks[i - 1], "?.")) continue;
  const a = toks[i + 1], b = toks[i + 2];
  let name, edit;
  if ((punct(a, ".") || punct(a, "?.")) && is(b, "ident")) {
    // wasm.NAME / wasm?.NAME (binaryen's names are identifiers; anything else goes in brackets)
    name = b.value;
    edit = (to) => (IDENT_NAME.test(to)
      ? { start: b.start, end: b.end, text: to }
      : { start: a.start, end: b.end, text: `${a.value === "?." ? "?." : ""}[${JSON.stringify(to)}]` });
  } else if (punct(a, "[") && is(b, "string") && punct(toks[i + 3], "]")) {
    name = b.value; // wasm["NAME"]
    edit = (to) => ({ start: b.start, end: b.end, text: JSON.stringify(to) });
  } else if (punct(a, "[") || (punct(a, "?.") && punct(b, "["))) {
    fail(`computed access to the wasm exports in the glue: ${glue.slice(t.start, t.start + 60)}`);
  } else {
    continue; // the binding itself (assigned, returned, compared)
  }
  if (!exportMap.has(name)) fail(`the glue reads ${wasmVar}.${name}, which the wasm does not export`);
  referenced.add(name);
  edits.push(edit(exportMap.get(name)));
}
for (const { name } of origExports) {
  if (!referenced.has(name) && !RUNTIME_ONLY.has(name) && !keep.has(name)) {
    fail(`the wasm exports ${name}, which the glue never reads`);
  }
}

// Imports: find the object literal whose keys are the wasm's import modules.
const closer = matchBrackets(toks);
const parent = enclosing(toks, closer);
const moduleNames = new Set(origImports.map((i) => i.module));
const moduleKeys = [];
for (let i = 0; i < toks.length; i++) {
  const t = toks[i];
  if ((is(t, "string") || is(t, "ident")) && punct(toks[i + 1], ":") && (punct(toks[i - 1], "{") || punct(toks[i - 1], ","))
      && moduleNames.has(t.value) && parent[i] >= 0 && punct(toks[parent[i]], "{") && isObjectLiteral(toks, parent[i])) {
    moduleKeys.push(i);
  }
}
const holders = new Set(moduleKeys.map((i) => parent[i]));
if (holders.size !== 1) fail(`expected one object mapping the import modules (${[...moduleNames].join(", ")}) in the glue, found ${holders.size}`);
const [holder] = holders;
const holderProps = objectProps(toks, holder, closer);
const ownObjects = []; // { module, props }
const namespaces = []; // { module, ident }
const found = new Set(); // "module\0name"
for (const p of holderProps) {
  if (p.key === "__proto__") continue;
  if (!moduleNames.has(p.key)) fail(`the import object maps ${JSON.stringify(p.key)}, which the wasm does not import from`);
  if (p.valueEnd - p.valueStart !== 1 || !is(toks[p.valueStart], "ident")) {
    fail(`the import module ${JSON.stringify(p.key)} is not bound to an identifier`);
  }
  const ident = toks[p.valueStart].value;
  const decl = findObjectDecl(toks, ident);
  if (decl >= 0) {
    const props = objectProps(toks, decl, closer);
    ownObjects.push({ module: p.key, ident, props });
    for (const q of props) {
      if (q.key === "__proto__") continue;
      const to = importMap.get(p.key)?.get(q.key);
      if (to === undefined) fail(`the glue supplies import ${p.key} ${q.key}, which the wasm does not import`);
      if (found.has(`${p.key}\0${q.key}`)) fail(`the glue supplies import ${p.key} ${q.key} twice`);
      found.add(`${p.key}\0${q.key}`);
      const k = toks[q.keyIndex];
      edits.push({ start: k.start, end: k.end, text: propKey(to) });
    }
  } else if (isNamespaceImport(toks, ident)) {
    namespaces.push({ module: p.key, ident });
    for (const [name] of importMap.get(p.key) ?? []) found.add(`${p.key}\0${name}`);
  } else {
    fail(`the import module ${JSON.stringify(p.key)} is bound to ${ident}, neither an object literal nor a namespace import`);
  }
}
for (const { module, name } of origImports) {
  if (!found.has(`${module}\0${name}`)) fail(`the wasm imports ${module} ${name}, which the glue does not supply`);
}
// One module remains: an own object as it is, or the union of every module's functions.
const moduleProps = holderProps.filter((p) => p.key !== "__proto__");
let value;
if (ownObjects.length === 1 && namespaces.length === 0) {
  value = ownObjects[0].ident;
} else {
  const parts = ["__proto__: null", ...ownObjects.map((o) => `...${o.ident}`)];
  for (const n of namespaces) {
    for (const [name, to] of importMap.get(n.module) ?? []) parts.push(`${propKey(to)}: ${propGet(n.ident, name)}`);
  }
  value = `{ ${parts.join(", ")} }`;
}
if (newModule === undefined) fail("the wasm has no imports left after minification"); // glue maps modules
moduleProps.forEach((p, n) => {
  const end = punct(toks[p.valueEnd], ",") ? toks[p.valueEnd].end : toks[p.valueEnd - 1].end;
  edits.push(n === 0
    ? { start: toks[p.keyIndex].start, end: toks[p.valueEnd - 1].end, text: `${propKey(newModule)}: ${value}` }
    : { start: toks[p.keyIndex].start, end, text: "" });
});

const newGlue = applyEdits(glue, edits);

// ---- the raw exports' declarations (not shipped, kept consistent) ----
let newDts = null;
if (dtsPath) {
  const dts = readFileSync(dtsPath, "utf8");
  const dt = tokenize(dts);
  const dtsEdits = [];
  for (let i = 0; i + 3 < dt.length; i++) {
    if (is(dt[i], "ident", "export") && is(dt[i + 1], "ident", "const") && is(dt[i + 2], "ident") && punct(dt[i + 3], ":")) {
      const name = dt[i + 2].value;
      if (!exportMap.has(name)) fail(`${dtsPath} declares ${name}, which the wasm does not export`);
      dtsEdits.push({ start: dt[i + 2].start, end: dt[i + 2].end, text: exportMap.get(name) });
    }
  }
  newDts = applyEdits(dts, dtsEdits);
}

// ---- check the result: every export read is a minified export, the imports link ----
{
  const t2 = tokenize(newGlue);
  const exportsNow = new Set(minExports.map((e) => e.name));
  for (let i = 0; i + 2 < t2.length; i++) {
    if (is(t2[i], "ident", wasmVar) && !punct(t2[i - 1], ".") && punct(t2[i + 1], ".") && is(t2[i + 2], "ident")
        && !exportsNow.has(t2[i + 2].value)) {
      fail(`after renaming the glue still reads ${wasmVar}.${t2[i + 2].value}`);
    }
  }
  // Link the renamed imports with the minified wasm: a copy of the glue next to it (so its
  // relative imports resolve) that also exports wasm-bindgen's __wbg_get_imports.
  const getImports = t2.some((t, i) => is(t, "ident", "function") && is(t2[i + 1], "ident", "__wbg_get_imports"));
  if (!getImports) fail("the glue has no __wbg_get_imports function to check the imports with");
  const probe = join(dirname(gluePath), `.${basename(gluePath, ".js")}.probe-${process.pid}.mjs`);
  process.on("exit", () => rmSync(probe, { force: true }));
  writeFileSync(probe, `${newGlue}\nexport { __wbg_get_imports as __probeImports };\n`);
  let imports;
  try {
    imports = (await import(pathToFileURL(probe).href)).__probeImports();
  } catch (e) {
    fail(`cannot load the renamed glue to check its imports: ${e.message}`);
  }
  rmSync(probe, { force: true });
  for (const { module, name, kind } of minImports) {
    const v = imports?.[module]?.[name];
    if (v === undefined || (kind === "function" && typeof v !== "function")) {
      fail(`the renamed glue does not supply the wasm's import ${module} ${name} (${kind})`);
    }
  }
  // Instantiating runs no code unless the wasm has a start section (wasm-bindgen emits none).
  if (!hasSection(minBytes, 8)) {
    try {
      new WebAssembly.Instance(minModule, imports);
    } catch (e) {
      fail(`the renamed glue's imports do not link with the minified wasm: ${e.message}`);
    }
  }
}

writeFileSync(wasmPath, minBytes);
writeFileSync(gluePath, newGlue);
if (newDts !== null) writeFileSync(dtsPath, newDts);
console.log(`minify-names: ${origImports.length} imports (modules ${[...moduleNames].join(", ")} -> ${newModule}) and ` +
  `${origExports.length} exports renamed${keep.size ? ` (kept: ${[...keep].join(", ")})` : ""}; ` +
  `wasm ${origBytes.length} -> ${minBytes.length} bytes, glue ${glue.length} -> ${newGlue.length}`);

// ================================================================================================

// A JavaScript tokenizer sufficient for generated code: comments, strings (decoded), template
// literals (their `${}` expressions tokenized), regular expressions, numbers, identifiers and
// punctuators. Tokens: { type: ident|string|number|template|regex|punct, value, start, end }.
function tokenize(src) {
  const out = [];
  const braces = []; // true for a `${` opened inside a template
  const PUNCT = [">>>=", "...", "===", "!==", "**=", "<<=", ">>=", ">>>", "&&=", "||=", "??=", "=>", "==", "!=", "<=",
    ">=", "&&", "||", "??", "?.", "++", "--", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "**", "<<", ">>"];
  const REGEX_AFTER_WORD = new Set(["return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw",
    "case", "do", "else", "yield", "await"]);
  const ID_START = /[\p{ID_Start}$_\\]/u, ID_PART = /[\p{ID_Continue}$\u200c\u200d\\]/u;
  let i = 0;
  const n = src.length;
  const regexAllowed = () => {
    const p = out[out.length - 1];
    if (!p) return true;
    if (p.type === "punct") return ![")", "]", "}"].includes(p.value);
    if (p.type === "ident") return REGEX_AFTER_WORD.has(p.value);
    return p.type === "template" && p.open; // `${ /re/ }`
  };
  const template = (start) => {
    // i is just past "`" or the "}" closing an expression
    let cooked = "";
    while (i < n) {
      const c = src[i];
      if (c === "`") { i++; out.push({ type: "template", value: cooked, start, end: i, open: false }); return; }
      if (c === "\\") { cooked += src.slice(i, i + 2); i += 2; continue; }
      if (c === "$" && src[i + 1] === "{") {
        i += 2; braces.push(true);
        out.push({ type: "template", value: cooked, start, end: i, open: true });
        return;
      }
      cooked += c; i++;
    }
    fail("unterminated template literal in the glue");
  };
  while (i < n) {
    const c = src[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === "/" && src[i + 1] === "/") { while (i < n && src[i] !== "\n" && src[i] !== "\r") i++; continue; }
    if (c === "/" && src[i + 1] === "*") {
      const e = src.indexOf("*/", i + 2);
      if (e < 0) fail("unterminated comment in the glue");
      i = e + 2; continue;
    }
    const start = i;
    if (c === '"' || c === "'") {
      i++;
      let v = "";
      while (i < n && src[i] !== c) {
        if (src[i] === "\\") { const [s, l] = unescape(src, i); v += s; i += l; } else { v += src[i++]; }
      }
      if (i >= n) fail("unterminated string in the glue");
      i++;
      out.push({ type: "string", value: v, start, end: i });
      continue;
    }
    if (c === "`") { i++; template(start); continue; }
    if (c === "}" && braces.length && braces[braces.length - 1]) { braces.pop(); i++; template(start); continue; }
    if (c === "/" && regexAllowed()) {
      i++;
      let cls = false;
      while (i < n) {
        const d = src[i];
        if (d === "\\") { i += 2; continue; }
        if (d === "\n") fail("unterminated regular expression in the glue");
        if (cls) { if (d === "]") cls = false; } else if (d === "[") cls = true; else if (d === "/") break;
        i++;
      }
      i++;
      while (i < n && ID_PART.test(src[i])) i++;
      out.push({ type: "regex", value: src.slice(start, i), start, end: i });
      continue;
    }
    if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(src[i + 1] ?? ""))) {
      i++;
      while (i < n && (/[0-9A-Za-z_.]/.test(src[i]) || ((src[i] === "+" || src[i] === "-") && /[eE]/.test(src[i - 1]) && !/^0[xX]/.test(src.slice(start, i))))) i++;
      out.push({ type: "number", value: src.slice(start, i), start, end: i });
      continue;
    }
    if (ID_START.test(c) || c.codePointAt(0) > 0xffff) {
      let v = "";
      while (i < n) {
        const cp = src.codePointAt(i), ch = String.fromCodePoint(cp);
        if (ch === "\\") { const [s, l] = unescape(src, i); v += s; i += l; continue; }
        if (!(v === "" ? ID_START : ID_PART).test(ch)) break;
        v += ch; i += ch.length;
      }
      if (v === "") fail(`unexpected character ${JSON.stringify(c)} in the glue at ${start}`);
      out.push({ type: "ident", value: v, start, end: i });
      continue;
    }
    let p = PUNCT.find((q) => src.startsWith(q, i));
    if (p === "?." && /[0-9]/.test(src[i + 2] ?? "")) p = undefined; // a ? .5 : x
    p ??= c;
    if (!"{}()[];,<>+-*/%&|^!~?:=.@#".includes(p[0])) fail(`unexpected character ${JSON.stringify(c)} in the glue at ${i}`);
    if (p === "{") braces.push(false);
    if (p === "}") braces.pop();
    i += p.length;
    out.push({ type: "punct", value: p, start, end: i });
  }
  return out;
}

// One escape sequence at src[i] === "\\": [decoded text, length].
function unescape(src, i) {
  const c = src[i + 1];
  const simple = { n: "\n", t: "\t", r: "\r", b: "\b", f: "\f", v: "\v", 0: "\0" };
  if (c in simple && !(c === "0" && /[0-9]/.test(src[i + 2] ?? ""))) return [simple[c], 2];
  if (c === "x") return [String.fromCharCode(parseInt(src.slice(i + 2, i + 4), 16)), 4];
  if (c === "u" && src[i + 2] === "{") {
    const e = src.indexOf("}", i);
    return [String.fromCodePoint(parseInt(src.slice(i + 3, e), 16)), e + 1 - i];
  }
  if (c === "u") return [String.fromCharCode(parseInt(src.slice(i + 2, i + 6), 16)), 6];
  if (c === "\r" && src[i + 2] === "\n") return ["", 3];
  if (c === "\n" || c === "\r" || c === "\u2028" || c === "\u2029") return ["", 2];
  return [c, 2];
}

// Index of the matching closer for every opener ( [ { among the tokens.
function matchBrackets(toks) {
  const closer = new Array(toks.length).fill(-1);
  const stack = [];
  const pairs = { ")": "(", "]": "[", "}": "{" };
  toks.forEach((t, i) => {
    if (t.type !== "punct") return;
    if (t.value === "(" || t.value === "[" || t.value === "{") stack.push(i);
    else if (t.value in pairs) {
      const o = stack.pop();
      if (o === undefined || toks[o].value !== pairs[t.value]) fail(`unbalanced ${t.value} in the glue at ${t.start}`);
      closer[o] = i;
    }
  });
  if (stack.length) fail("unbalanced brackets in the glue");
  return closer;
}

// Index of the innermost enclosing opener of every token (-1 at the top level).
function enclosing(toks, closer) {
  const parent = new Array(toks.length).fill(-1);
  const stack = [];
  toks.forEach((t, i) => {
    while (stack.length && closer[stack[stack.length - 1]] < i) stack.pop();
    parent[i] = stack.length ? stack[stack.length - 1] : -1;
    if (closer[i] >= 0) stack.push(i);
  });
  return parent;
}

// Whether the `{` at index o starts an expression (an object literal) rather than a block.
function isObjectLiteral(toks, o) {
  const p = toks[o - 1];
  if (!p) return false;
  if (p.type === "punct") return ["=", "(", ",", ":", "[", "?", "||", "&&", "??", "...", "!"].includes(p.value);
  return p.type === "ident" && ["return", "yield", "await", "typeof", "void"].includes(p.value);
}

// The properties `key: value` of the object literal opening at index o; anything else (shorthand,
// methods, spreads, computed keys) is refused. valueEnd is the index of the `,` or `}` after it.
function objectProps(toks, o, closer) {
  const props = [];
  const end = closer[o];
  let i = o + 1;
  while (i < end) {
    const k = toks[i];
    if (!(is(k, "ident") || is(k, "string") || is(k, "number")) || !punct(toks[i + 1], ":")) {
      fail(`unsupported property in an import object of the glue at ${k.start}: ${JSON.stringify(k.value)}`);
    }
    let j = i + 2;
    while (j < end && !punct(toks[j], ",")) j = closer[j] >= 0 ? closer[j] + 1 : j + 1;
    props.push({ key: k.value, keyIndex: i, valueStart: i + 2, valueEnd: j });
    i = j + 1;
  }
  return props;
}

// Index of `{` in a single `const|let|var ident = {` declaration, or -1.
function findObjectDecl(toks, ident) {
  const hits = [];
  for (let i = 0; i + 3 < toks.length; i++) {
    if (is(toks[i], "ident") && ["const", "let", "var"].includes(toks[i].value) && is(toks[i + 1], "ident", ident)
        && punct(toks[i + 2], "=") && punct(toks[i + 3], "{")) hits.push(i + 3);
  }
  if (hits.length > 1) fail(`${ident} is declared as an object more than once in the glue`);
  return hits.length ? hits[0] : -1;
}

// Whether the glue binds ident with `import * as ident from "..."`.
function isNamespaceImport(toks, ident) {
  for (let i = 0; i + 3 < toks.length; i++) {
    if (is(toks[i], "ident", "import") && punct(toks[i + 1], "*") && is(toks[i + 2], "ident", "as") && is(toks[i + 3], "ident", ident)) return true;
  }
  return false;
}

function applyEdits(text, list) {
  const sorted = [...list].sort((a, b) => b.start - a.start);
  for (let k = 1; k < sorted.length; k++) {
    if (sorted[k].end > sorted[k - 1].start) fail("overlapping edits (internal error)");
  }
  let s = text;
  for (const e of sorted) s = s.slice(0, e.start) + e.text + s.slice(e.end);
  return s;
}

// Whether a wasm binary has a section with this id.
function hasSection(bytes, want) {
  let p = 8;
  while (p < bytes.length) {
    const id = bytes[p];
    let size = 0, s = 0, x;
    p++;
    do { x = bytes[p++]; size += (x & 0x7f) * 2 ** s; s += 7; } while (x & 0x80);
    if (id === want) return true;
    p += size;
  }
  return false;
}

// Rewrites the names in the export section (id 7) of a wasm binary: rename maps old -> new.
function renameExports(bytes, rename) {
  const leb = (b, p) => { let r = 0, s = 0, x; do { x = b[p++]; r += (x & 0x7f) * 2 ** s; s += 7; } while (x & 0x80); return [r, p]; };
  const enc = (v) => { const o = []; do { let x = v & 0x7f; v = Math.floor(v / 128); if (v) x |= 0x80; o.push(x); } while (v); return Buffer.from(o); };
  const parts = [bytes.subarray(0, 8)];
  let p = 8, done = 0;
  while (p < bytes.length) {
    const id = bytes[p];
    const [size, q] = leb(bytes, p + 1);
    const body = bytes.subarray(q, q + size);
    if (id !== 7) { parts.push(bytes.subarray(p, q + size)); p = q + size; continue; }
    let [count, r] = leb(body, 0);
    const entries = [enc(count)];
    for (let k = 0; k < count; k++) {
      const [len, s] = leb(body, r);
      const name = Buffer.from(body.subarray(s, s + len)).toString("utf8");
      let [, t] = leb(body, s + len + 1); // kind byte, then the index
      const to = rename.get(name);
      if (to !== undefined) done++;
      const nb = Buffer.from(to ?? name, "utf8");
      entries.push(enc(nb.length), nb, body.subarray(s + len, t));
      r = t;
    }
    const nbody = Buffer.concat(entries);
    parts.push(Buffer.from([7]), enc(nbody.length), nbody);
    p = q + size;
  }
  if (done !== rename.size) fail("renaming the kept exports back failed");
  return Buffer.concat(parts);
}
