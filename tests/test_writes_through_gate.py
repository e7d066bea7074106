"""Every file segviewer writes goes through the output gate: a write primitive (savefig, Image/QImage save, np.save,
open for writing, write_text, os.replace, ...) may only appear inside `with atomic_output(...)`,
`private_output(...)` or `run.writing(...)`, whose temporary path it writes. A writer added later without the gate
fails here. The few exceptions are listed with their reason."""
import ast
from pathlib import Path

import segviewer

PACKAGE = Path(segviewer.__file__).parent
GATE_CALLS = {"atomic_output", "private_output", "writing"}
WRITE_METHODS = {"savefig", "save", "savez", "savez_compressed", "write_text", "write_bytes", "to_csv", "tofile",
                 "to_parquet", "mkstemp", "NamedTemporaryFile", "copy", "copyfile", "copy2", "move", "replace",
                 "rename", "link", "symlink"}
WRITE_FLAGS = {"O_CREAT", "O_WRONLY", "O_RDWR", "O_TRUNC", "O_APPEND"}
THE_GATE = {"core/output_run.py"}    # where temporary files are made and renamed
EXCEPTIONS = {    # (file, the function the call is in, the call): why it is no user output
    ("core/options.py", "writable_folder", "mkstemp"): "a probe: a fresh file made exclusively (never an existing "
                                                       "name) and removed at once in segviewer's folder",
    ("core/sessions/sqlite_files.py", "_from_copy", "copyfile"): "a session that cannot be opened in place, "
                                                                    "copied into a private temporary folder (mkdtemp) "
                                                                    "to be read whole, then removed",
    ("core/demo_volume.py", "_write_case", "savez_compressed"): "into an in-memory buffer (io.BytesIO) whose bytes "
                                                               "_write_bytes writes through the gate",
    ("core/count_store_build.py", "_open_in_place", "open"): "the build's partial count store, made by "
                                                             "private_output, filled chunk by chunk in place (a "
                                                             "resumable build keeps what it wrote)",
    ("gui/main_window.py", "closeEvent", "save"): "the window layout saved into QSettings, not a file the user named",
    ("core/sessions/journal.py", "_try_lock", "open"): "the offline journal's lock file (flock), beside the "
                                                       "journal in segviewer's own folder",
    ("core/sessions/sqlite_new.py", "__init__", "open"): "a new session's own file, made exclusively beside it; "
                                                         "sessions pass the session gate, not the output gate",
    ("core/sessions/sqlite_new.py", "place", "link"): "that file given the session's name, failing when it exists",
    ("core/sessions/sqlite_new.py", "_claim_then_rename", "open"): "where the file system has no hard links: the "
                                                                   "session's name claimed exclusively",
    ("core/sessions/sqlite_new.py", "_claim_then_rename", "replace"): "then the written file renamed over the claim",
}


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def _opens_for_writing(call: ast.Call) -> bool:
    if _name(call.func) != "open" or isinstance(call.func, ast.Attribute) and _owner(call.func) == "os":
        return False
    mode = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "mode"), None)
    return isinstance(mode, ast.Constant) and isinstance(mode.value, str) and bool(set(mode.value) & set("wax+"))


def _owner(func: ast.Attribute) -> str | None:
    return func.value.id if isinstance(func.value, ast.Name) else None


def _os_open_for_writing(call: ast.Call) -> bool:
    """os.open(path, flags) whose flags name a way to create or change a file."""
    if not (isinstance(call.func, ast.Attribute) and call.func.attr == "open" and _owner(call.func) == "os"):
        return False
    flags = call.args[1] if len(call.args) > 1 else None
    if flags is None:
        return False
    parts = list(ast.walk(flags))
    named = {n.attr for n in parts if isinstance(n, ast.Attribute)}
    named |= {n.value for n in parts if isinstance(n, ast.Constant) and isinstance(n.value, str)}   # getattr(os, ..)
    variables = {n.id for n in parts if isinstance(n, ast.Name)} - {"os", "getattr"}
    return bool(named & WRITE_FLAGS or variables)       # flags in a variable: assumed to write


def _is_write(call: ast.Call) -> bool:
    name = _name(call.func)
    if _opens_for_writing(call) or _os_open_for_writing(call):
        return True
    if name in ("link", "symlink"):
        return isinstance(call.func, ast.Attribute) and _owner(call.func) == "os"
    if name in ("replace", "rename"):      # str.replace is not a write: only os.replace / os.rename / Path.rename
        return isinstance(call.func, ast.Attribute) and _owner(call.func) == "os"
    if name in ("copy", "move"):
        return isinstance(call.func, ast.Attribute) and _owner(call.func) == "shutil"
    return name in WRITE_METHODS and isinstance(call.func, ast.Attribute)


def _gated_calls(tree: ast.AST) -> set[int]:
    """ids of the calls lexically inside a `with` whose items include a gate call (its later items included)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.With, ast.AsyncWith)):
            continue
        gate_at = next((i for i, item in enumerate(node.items) if isinstance(item.context_expr, ast.Call)
                        and _name(item.context_expr.func) in GATE_CALLS), None)
        if gate_at is None:
            continue
        parts = [item.context_expr for item in node.items[gate_at + 1:]] + list(node.body)
        for part in parts:
            inside.update(id(n) for n in ast.walk(part) if isinstance(n, ast.Call))
    return inside


def _enclosing_functions(tree: ast.AST) -> dict[int, str]:
    """id of every call -> the name of the innermost function it is in ("" at module level)."""
    where: dict[int, str] = {}

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if isinstance(child, ast.Call):
                where[id(child)] = function
            visit(child, inner)
    visit(tree, "")
    return where


def ungated_writes(package: Path = PACKAGE) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).as_posix()
        if rel in THE_GATE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        gated, functions = _gated_calls(tree), _enclosing_functions(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _is_write(node) and id(node) not in gated:
                if (rel, functions[id(node)], _name(node.func)) not in EXCEPTIONS:
                    found.append(f"{rel}:{node.lineno}: {ast.unparse(node)[:80]}")
    return found


def test_every_exception_is_still_there():
    """An exception whose call went away is removed here, so it cannot cover a later write of another kind."""
    used = set()
    for rel, function, call in EXCEPTIONS:
        tree = ast.parse((PACKAGE / rel).read_text(encoding="utf-8"))
        functions = _enclosing_functions(tree)
        if any(isinstance(n, ast.Call) and _is_write(n) and functions[id(n)] == function and _name(n.func) == call
               for n in ast.walk(tree)):
            used.add((rel, function, call))
    assert set(EXCEPTIONS) - used == set()


def test_an_exception_covers_its_own_function_only(tmp_path):
    """A second save in the window's file, or a bare os.open that creates a file, is found."""
    (tmp_path / "gui").mkdir()
    (tmp_path / "core" / "sessions").mkdir(parents=True)
    (tmp_path / "gui" / "main_window.py").write_text(
        "class W:\n    def closeEvent(self, e):\n        self.settings.save()\n"
        "    def export(self, path):\n        self.grab().save(path)\n")
    (tmp_path / "core" / "sessions" / "journal.py").write_text(
        "import os\ndef f(p):\n    os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)\n    os.open(p, os.O_RDONLY)\n")
    assert [line.split(": ")[0] for line in ungated_writes(tmp_path)] == ["core/sessions/journal.py:3",
                                                                          "gui/main_window.py:5"]


def test_every_write_goes_through_the_output_gate():
    assert ungated_writes() == []


def test_the_checker_sees_an_ungated_write(tmp_path):
    """The rule itself: a bare savefig or open(..., 'w') is found; the same call inside the gate is not."""
    bare = ast.parse("fig.savefig(path)\nopen(p, 'w').write('x')\nos.replace(a, b)\n'x'.replace('a', 'b')\n")
    found = {n.lineno: _is_write(n) for n in ast.walk(bare) if isinstance(n, ast.Call) and _name(n.func) != "write"}
    assert found == {1: True, 2: True, 3: True, 4: False}
    gated = ast.parse("with atomic_output(path) as tmp, open(tmp, 'w') as fh:\n    fig.savefig(tmp)\n")
    calls = [n for n in ast.walk(gated) if isinstance(n, ast.Call) and _is_write(n)]
    assert len(calls) == 2 and all(id(c) in _gated_calls(gated) for c in calls)
