"""No import cycles, module by module, in either package.

import-linter's contracts (``lint-imports``, run by CI) hold the layers and forbid cycles
between sibling packages; this test reads the same graph with grimp (import-linter's own
graph builder) and looks for any cycle between two modules: imports inside functions and
under ``TYPE_CHECKING`` count too, since hiding an import there does not remove the
dependency.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import grimp
import pytest

PACKAGES = ("tau_engine", "tau_tui")


def import_cycles(
    modules: Iterable[str], imports_of: Callable[[str], Iterable[str]]
) -> list[list[str]]:
    """The strongly connected components of more than one module (or a module that imports
    itself): each is a set of modules that import each other round a cycle. Tarjan's
    algorithm, iterative, so a deep graph cannot overflow the stack."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    for root in sorted(modules):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = []
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work.append((root, sorted(imports_of(root))))
        while work:
            node, pending = work[-1]
            if pending:
                nxt = pending.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(imports_of(nxt))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in imports_of(node):
                    cycles.append(sorted(component))
    return cycles


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_imports_itself_through_others(graph: grimp.ImportGraph, package: str) -> None:
    modules = {m for m in graph.modules if m.split(".")[0] == package}

    def imports_of(module: str) -> set[str]:
        return {m for m in graph.find_modules_directly_imported_by(module) if m in modules}

    cycles = import_cycles(modules, imports_of)
    shown = ["; ".join(" -> ".join(chain) for chain in _chains(graph, cycle)) for cycle in cycles]
    assert not cycles, "import cycles:\n" + "\n".join(shown)


def _chains(graph: grimp.ImportGraph, cycle: list[str]) -> list[tuple[str, ...]]:
    """A readable path round the cycle from its first module, for the failure message."""
    first, rest = cycle[0], set(cycle[1:])
    chains = []
    for other in sorted(rest):
        there = graph.find_shortest_chain(importer=first, imported=other)
        back = graph.find_shortest_chain(importer=other, imported=first)
        if there and back:
            chains.append((*there, *back[1:]))
            break
    return chains


def test_the_cycle_finder_finds_cycles() -> None:
    graph = grimp.ImportGraph()
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set()}
    for importer, imported in edges.items():
        graph.add_module(importer)
        for target in imported:
            graph.add_import(importer=importer, imported=target)
    cycles = import_cycles(edges, graph.find_modules_directly_imported_by)
    assert sorted(cycles) == [["a", "b", "c"], ["e"]]
