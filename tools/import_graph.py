"""Import graph of the checkout: every import, those inside functions included.

Usage (from the repository root)::

    python tools/import_graph.py            # summary: modules, edges, cycles, layer breaks
    python tools/import_graph.py --edges    # also every edge, one per line
    python tools/import_graph.py --json     # machine-readable

The files are parsed, never imported, so the graph is the same whatever is installed.
``verification/`` is read as ``statespace.verification`` (the name it is installed
under) and ``benchmarks/`` as ``benchmarks``. An import of a name from a package counts
as an edge to the submodule when one of that name exists, else to the package.

Layers (imports must point downwards): the core (``statespace.*`` except the three
below) must not import ``statespace.verification``, ``statespace.cli`` or
``benchmarks``; ``statespace.verification`` must not import ``statespace.cli`` or
``benchmarks``; ``statespace.torch`` must not import ``statespace.verification``,
``statespace.cli`` or ``benchmarks``. Exit status 1 when there is a cycle or a layer
break.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

ROOTS = {"statespace": "statespace", "verification": "statespace.verification",
         "benchmarks": "benchmarks"}


def _module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    parts[0] = ROOTS[parts[0]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def collect(root: Path) -> dict[str, Path]:
    """Module name -> file for every project module."""
    mods = {}
    for top in ROOTS:
        base = root / top
        if base.is_dir():
            for p in sorted(base.rglob("*.py")):
                mods[_module_name(p, root)] = p
    return mods


def _resolve(name: str, mods: dict[str, Path]) -> str | None:
    """The project module that ``name`` refers to (longest matching prefix)."""
    if name.startswith("verification"):  # the bare checkout name
        name = "statespace." + name
    while name:
        if name in mods:
            return name
        name = name.rpartition(".")[0]
    return None


def edges_of(mod: str, path: Path, mods: dict[str, Path]) -> set[tuple[str, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_pkg = path.name == "__init__.py"
    package = mod if is_pkg else mod.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for a in node.names:
                full = f"{prefix}.{a.name}"
                targets.append(full if _resolve(full, mods) == full else prefix)
        for t in targets:
            r = _resolve(t, mods)
            if r is not None and r != mod:
                out.add((mod, r))
    return out


def graph(root: Path):
    mods = collect(root)
    edges = set()
    for m, p in mods.items():
        edges |= edges_of(m, p, mods)
    return mods, sorted(edges)


def cycles(mods, edges) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    adj = {m: [] for m in mods}
    for a, b in edges:
        adj[a].append(b)
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in adj[v]:
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
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for m in mods:
        if m not in index:
            visit(m)
    return out


def layer(mod: str) -> str:
    if mod == "statespace.cli" or mod.startswith("statespace.cli."):
        return "cli"
    if mod.startswith("statespace.verification"):
        return "verification"
    if mod.startswith("statespace.torch"):
        return "torch"
    if mod.startswith("benchmarks"):
        return "benchmarks"
    return "core"


FORBIDDEN = {
    "core": {"verification", "cli", "benchmarks", "torch"},
    "torch": {"verification", "cli", "benchmarks"},
    "verification": {"cli", "benchmarks"},
    "benchmarks": {"cli"},
    "cli": set(),
}


def layer_breaks(edges) -> list[tuple[str, str]]:
    return [(a, b) for a, b in edges if layer(b) in FORBIDDEN[layer(a)]]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=".", help="repository root (default: .)")
    ap.add_argument("--edges", action="store_true", help="print every edge")
    ap.add_argument("--json", action="store_true", help="print JSON")
    args = ap.parse_args(argv)
    mods, edges = graph(Path(args.root))
    cyc = cycles(mods, edges)
    breaks = layer_breaks(edges)
    if args.json:
        print(json.dumps({"modules": sorted(mods), "edges": edges, "cycles": cyc,
                          "layer_breaks": breaks}, indent=1))
    else:
        print(f"{len(mods)} modules, {len(edges)} import edges")
        if args.edges:
            for a, b in edges:
                print(f"  {a} -> {b}")
        print(f"{len(cyc)} cycle(s)")
        for c in cyc:
            print("  cycle: " + ", ".join(c))
        print(f"{len(breaks)} layer break(s)")
        for a, b in breaks:
            print(f"  {a} ({layer(a)}) -> {b} ({layer(b)})")
    return 1 if cyc or breaks else 0


if __name__ == "__main__":
    sys.exit(main())
