"""The package's layout is its architecture: imports go one way, and the pure layers stay pure.

The layers, lowest first (README, "Layout"):

    base      chatroom, limits, console, signals, text, fdlimit, tlssocket
    protocol  CHAT/1.0 without I/O
    hub       who hears what: users, rooms, routing of messages (no sockets, no wire bytes)
    codecs    wire protocols as the hub sees them (bytes to requests, messages to bytes)
    net       the loop, listeners, connections, transports
    web       the web gateway: HTTP heads, the page's files, the WebSocket transport (wsproto)
    store     what the server keeps on disk: the rooms' history in SQLite, on a writer thread of its own
    irc       the IRC listener's protocol (parser, builder, codec), sans-I/O, beside codecs
    server    wires hub, codecs, net and store together; the command line
    client    the terminal client (speaks only the protocol)
    bench     the benchmark (speaks only the protocol)

A module may import its own layer and the layers listed for it below, nothing else.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "chatroom"

BASE_MODULES = frozenset({"chatroom", "limits", "console", "signals", "text", "fdlimit", "tlssocket"})

MAY_IMPORT: dict[str, frozenset[str]] = {
    "base": frozenset(),
    "protocol": frozenset({"base"}),
    "hub": frozenset({"base", "protocol"}),
    "codecs": frozenset({"base", "protocol", "hub"}),
    "irc": frozenset({"base", "protocol", "hub", "codecs"}),
    "net": frozenset({"base", "protocol", "hub", "codecs"}),
    "store": frozenset({"base"}),
    "web": frozenset({"base", "protocol", "hub", "codecs", "net"}),
    "server": frozenset({"base", "protocol", "hub", "codecs", "irc", "net", "store", "web"}),
    "client": frozenset({"base", "protocol"}),
    "bench": frozenset({"base", "protocol"}),
}

# The pure layers are fed bytes and events; sockets, selectors, clocks and threads belong above them.
NO_IO = frozenset({"socket", "selectors", "select", "ssl", "threading", "time", "asyncio", "subprocess"})
PURE_LAYERS = frozenset({"protocol", "hub", "codecs", "irc"})


def layer_of(module: str) -> str:
    """'chatroom.hub.router' -> 'hub'; 'chatroom.limits' -> 'base'."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in BASE_MODULES:
        return "base"
    assert parts[1] in MAY_IMPORT, f"{module} is in no layer: add it to tests/test_layout.py and the README"
    return parts[1]


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in `path`, at any depth (a lazy import is still a dependency)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # `from chatroom.client import render` imports chatroom.client.render.
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def is_module(name: str) -> bool:
    parts = name.split(".")
    return (PACKAGE.parent.joinpath(*parts).with_suffix(".py")).exists() or (
        PACKAGE.parent.joinpath(*parts) / "__init__.py"
    ).exists()


@pytest.mark.parametrize("path", MODULES, ids=lambda path: module_name(path))
def test_a_module_imports_only_its_own_layer_and_the_layers_below_it(path: Path) -> None:
    here = layer_of(module_name(path))
    allowed = MAY_IMPORT[here] | {here}
    wrong = [
        f"line {line}: {target} ({layer_of(target)})"
        for line, target in imports_of(path)
        if target.startswith("chatroom") and is_module(target) and layer_of(target) not in allowed
    ]
    assert not wrong, f"{module_name(path)} ({here}) may import only {sorted(allowed)}: {wrong}"


@pytest.mark.parametrize(
    "path",
    [path for path in MODULES if layer_of(module_name(path)) in PURE_LAYERS],
    ids=lambda path: module_name(path),
)
def test_the_pure_layers_touch_no_sockets_clocks_or_threads(path: Path) -> None:
    wrong = [f"line {line}: {target}" for line, target in imports_of(path) if target.split(".")[0] in NO_IO]
    assert not wrong, f"{module_name(path)} is sans-I/O but imports {wrong}"


def test_there_are_no_import_cycles_between_modules() -> None:
    graph = {
        module_name(path): {
            target for _, target in imports_of(path) if target.startswith("chatroom") and is_module(target)
        }
        for path in MODULES
    }
    # A package's __init__ may re-export its own modules; that is not a cycle between concerns.
    for name, targets in graph.items():
        if PACKAGE.joinpath(*name.split(".")[1:], "__init__.py").exists():
            targets.difference_update(t for t in list(targets) if t.startswith(name + "."))
        targets.discard(name)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(cycle) for cycle in cycles)


def test_the_layering_rule_would_catch_a_wrong_import(tmp_path: Path) -> None:
    """The checks above can fail: a client module importing the server is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("from chatroom.server.app import Server\nimport socket\n")
    targets = [target for _, target in imports_of(bad)]
    assert "chatroom.server.app" in targets and "socket" in targets
    assert layer_of("chatroom.server.app") not in MAY_IMPORT["client"]


# Names that say "this is a bound": a size, a count, a time, a cap.
BOUND_NAME = re.compile(
    r"^_?(MAX|MIN)_|_(BYTES|S|MS|LINES|CHARS|COUNT|SIZE|CACHE|PER_TURN|LIMIT|CAP|TIMEOUT)$"
)


def numeric_constants(path: Path) -> list[tuple[int, str]]:
    """(line, NAME) for module-level NAME = <number or arithmetic on numbers>."""
    found: list[tuple[int, str]] = []
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            is_number = all(
                isinstance(leaf, ast.Constant) and isinstance(leaf.value, int | float)
                for leaf in ast.walk(node.value)
                if not isinstance(leaf, ast.BinOp | ast.UnaryOp | ast.operator | ast.unaryop)
            )
            for target in targets:
                if is_number and isinstance(target, ast.Name) and BOUND_NAME.search(target.id):
                    found.append((node.lineno, target.id))
    return found


@pytest.mark.parametrize(
    "path",
    [path for path in MODULES if "bench" not in path.parts and path.name != "limits.py"],
    ids=lambda path: module_name(path),
)
def test_every_bound_of_the_server_and_client_lives_in_limits_py(path: Path) -> None:
    """So a reader sees at a glance what one peer can cost, and a tuner knows where to look."""
    hidden = numeric_constants(path)
    assert not hidden, f"{module_name(path)} defines bounds outside chatroom/limits.py: {hidden}"


def test_the_bound_check_would_catch_a_hidden_limit(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("READ_BYTES = 64 * 1024\nHISTORY_LINES = 500\nPROMPT = '> '\nEXIT_OK = 0\n")
    assert [name for _, name in numeric_constants(sneaky)] == ["READ_BYTES", "HISTORY_LINES"]
