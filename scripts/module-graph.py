#!/usr/bin/env python3
"""Draws the module graph of a Rust crate from its sources and fails on a circle.

Usage: scripts/module-graph.py SRC_DIR [SRC_DIR ...]   (each the directory of a lib.rs)

A module's edges are the modules its code names: `use crate::a::b`, `crate::a::b::f(...)` in
code, `use super::x` (a sibling `x` of the module), and in a parent module the children it names
(`view::open(...)`). Two graphs are checked for each crate:

- the crate's top-level modules (`driver`, `machine`, ...): what `lib.rs` declares;
- within each module that has children, the children among themselves (the driver's rooms, the
  simulator's parts). A child naming its own parent (`super::feed`) is not an edge: the parent is
  the facade its children share.

Prints both graphs and every circle found; exits 1 when there is one.
"""

import re
import sys
from pathlib import Path


def modules(src):
    """Module path (tuple) -> file, for every module under a crate's src directory."""
    found = {}
    for f in src.rglob("*.rs"):
        rel = f.relative_to(src).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "mod":
            parts = parts[:-1]
        if parts == ["lib"]:
            parts = []
        elif parts == ["main"] or (parts and parts[0] == "bin"):
            continue  # binaries are crates of their own
        found[tuple(parts)] = f
    return found


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'r#"(.*?)"#', '""', text, flags=re.S)  # raw strings (inline JavaScript)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def expand(tree):
    """`a::{b, c::{d, e}}` -> ["a::b", "a::c::d", "a::c::e"] (aliases and globs dropped)."""
    tree = tree.strip()
    m = re.match(r"^(.*?)\{(.*)\}$", tree, flags=re.S)
    if not m:
        return [re.sub(r"\s+as\s+\w+$", "", tree).rstrip(":*").rstrip(":")]
    prefix, inner = m.group(1), m.group(2)
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        if p.strip():
            out += [prefix + q if q != "self" else prefix.rstrip(":") for q in expand(p.strip())]
    return out


def paths(module, text, children):
    """Absolute module paths (tuples of names) the code of `module` names."""
    text = strip_comments(text)
    named = []
    for tree in re.findall(r"\buse\s+([^;]+);", text, flags=re.S):
        named += expand(tree)
    named += re.findall(r"\b(crate(?:::\w+)+)", text)
    named += re.findall(r"\b(super(?:::\w+)+)", text)
    # A parent naming its children in code: `view::open(`.
    named += [m for m in re.findall(r"(?<![:\w])(\w+(?:::\w+)+)", text) if m.split("::")[0] in children]
    out = []
    for p in named:
        segs = [s for s in p.split("::") if s]
        if not segs:
            continue
        if segs[0] == "crate":
            out.append(tuple(segs[1:]))
        elif segs[0] == "super":
            base = list(module)
            while segs and segs[0] == "super":
                base = base[:-1]
                segs = segs[1:]
            out.append(tuple(base + segs))
        elif segs[0] == "self":
            out.append(tuple(list(module) + segs[1:]))
        elif segs[0] in children:
            out.append(tuple(list(module) + segs))
    return out


def resolve(path, mods):
    """The longest prefix of `path` that is a module."""
    for n in range(len(path), -1, -1):
        if tuple(path[:n]) in mods:
            return tuple(path[:n])
    return ()


def circles(graph):
    """Every elementary circle reachable (one per strongly connected component is enough)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def show(name):
    return "::".join(name) or "(crate root)"


def check(src):
    mods = modules(src)
    top, rooms = {}, {}
    for module, f in sorted(mods.items()):
        children = {m[-1] for m in mods if len(m) == len(module) + 1 and m[: len(module)] == module}
        for p in paths(module, f.read_text(), children):
            target = resolve(p, mods)
            if not target or target == module:
                continue
            # Top level: between the first segments, the crate root aside.
            if module and target[0] != module[0]:
                top.setdefault(module[0], set()).add(target[0])
            # Siblings: below a common parent, naming a module that is not an ancestor.
            if len(module) >= 2 and target[: len(module)] != module and module[: len(target)] != target:
                common = 0
                while common < min(len(module), len(target)) and module[common] == target[common]:
                    common += 1
                if common >= 1 and common < len(module) and common < len(target):
                    parent = module[:common]
                    rooms.setdefault(parent, {}).setdefault(module[common], set()).add(target[common])
        if module and len(module) == 1:
            top.setdefault(module[0], set())
    failed = False
    print(f"{src}: {len(mods)} modules")
    print("  top level:")
    for m in sorted(top):
        print(f"    {m} -> {', '.join(sorted(top[m])) or '(none)'}")
    found = circles(top)
    for parent, graph in sorted(rooms.items()):
        print(f"  inside {show(parent)}:")
        for m in sorted(graph):
            print(f"    {m} -> {', '.join(sorted(graph[m]))}")
        found += [[show(parent) + "::" + x for x in c] for c in circles(graph)]
    for c in found:
        failed = True
        print(f"  CIRCLE: {' <-> '.join(c)}")
    return not failed


ok = all([check(Path(d)) for d in sys.argv[1:]])
print("module graph: no circle" if ok else "module graph: circles found")
sys.exit(0 if ok else 1)
