"""Every public event handler is bound by the app itself: no endpoint exists that no page calls.

An event handler is a remote endpoint anyone can call over the websocket, whether or not a page
shows a button for it. One that no page binds is attack surface with no user: it is not exercised
by the pages, drifts from the rules the live path keeps, and still has to be guarded and tested.
So every handler of the allow-list (tests/security/authz.py `all_handlers()`, the keys of TABLE in
test_authorization_matrix.py) must be mentioned as `SomeState.handler` in app code that binds
events:
- coursemall/pages and coursemall/components (`on_click=S.save`, `on_load=[...]`, `on_mount=...`);
- coursemall/state (handlers that chain another state's event: `return BrandState.load_brand`,
  and `page_load(...)`, the on_load helper).

The scan is static (Python's ast) and resolves the names the code gives state classes:
`from ... import CheckinState as S`, `s = CmsCourseState` in a module or function, and a function
parameter that callers pass a state class (`sort_select(SearchState)` makes `state.change_sort`
inside `sort_select` a reference to `SearchState.change_sort`). A handler defined on a parent
state counts as referenced through any subclass (`PlayerState.load_viewer` is AppState's).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from tests.security.authz import all_handlers, app_states

ROOT = Path(__file__).resolve().parents[2] / "coursemall"
BINDING_CODE = ("pages", "components", "state")

# Handlers only a script calls by name (never bound in Python), with where the call lives.
# Empty today: the player's script reaches PlayerState.heartbeat / article_read / refresh_media
# through hidden inputs whose on_change binds them in components/player.py, so they are ordinary
# references. A handler added here must say which script calls it.
CALLED_FROM_JAVASCRIPT: dict[str, str] = {}


def _source_files() -> list[Path]:
    return sorted(p for part in BINDING_CODE for p in (ROOT / part).rglob("*.py"))


class _Scanner:
    """Collects (state class name, attribute) for every `X.attr` where X names a state class."""

    def __init__(self, class_names: set[str]):
        self.class_names = class_names
        # function name -> {parameter position or name: state class names passed there}
        self.param_classes: dict[str, dict[object, set[str]]] = defaultdict(lambda: defaultdict(set))
        self.refs: dict[tuple[str, str], set[str]] = defaultdict(set)  # (class, attr) -> files

    def param_facts(self) -> int:
        return sum(len(classes) for per_fn in self.param_classes.values() for classes in per_fn.values())

    # names -------------------------------------------------------------------------------
    def bindings(self, node: ast.AST, outer: dict[str, set[str]]) -> dict[str, set[str]]:
        """The names bound to state classes directly in this scope (not in nested functions)."""
        names = dict(outer)
        stack = list(ast.iter_child_nodes(node))
        while stack:
            n = stack.pop()
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue
            if isinstance(n, ast.ImportFrom):
                for a in n.names:
                    if a.name in self.class_names:
                        names[a.asname or a.name] = {a.name}
            elif isinstance(n, ast.Assign) and isinstance(n.value, ast.Name):
                classes = self._classes_of(n.value, names)
                for target in n.targets:
                    if classes and isinstance(target, ast.Name):
                        names[target.id] = classes
            stack.extend(ast.iter_child_nodes(n))
        return names

    def _classes_of(self, node: ast.AST, names: dict[str, set[str]]) -> set[str]:
        if isinstance(node, ast.Name):
            if node.id in names:
                return names[node.id]
            if node.id in self.class_names:
                return {node.id}
        return set()

    def _function_scope(self, fn: ast.FunctionDef | ast.AsyncFunctionDef,
                        outer: dict[str, set[str]]) -> dict[str, set[str]]:
        names = dict(outer)
        passed = self.param_classes.get(fn.name, {})
        params = [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]
        for i, p in enumerate(params):
            classes = passed.get(i, set()) | passed.get(p.arg, set())
            if classes:
                names[p.arg] = set(classes)
        return self.bindings(fn, names)

    # walk ------------------------------------------------------------------------------
    def walk(self, node: ast.AST, names: dict[str, set[str]], path: str) -> None:
        for n in ast.iter_child_nodes(node):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.walk(n, self._function_scope(n, names), path)
                continue
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name):
                for cls in self._classes_of(n.value, names):
                    self.refs[(cls, n.attr)].add(path)
            if isinstance(n, ast.Call):
                callee = n.func.id if isinstance(n.func, ast.Name) else (
                    n.func.attr if isinstance(n.func, ast.Attribute) else None)
                if callee:
                    for i, a in enumerate(n.args):
                        self.param_classes[callee][i] |= self._classes_of(a, names)
                    for kw in n.keywords:
                        if kw.arg:
                            self.param_classes[callee][kw.arg] |= self._classes_of(kw.value, names)
            self.walk(n, names, path)


def handler_references() -> dict[tuple[str, str], set[str]]:
    """{(state class name, attribute): files mentioning it}, state classes resolved through aliases."""
    scanner = _Scanner({cls.__name__ for cls in app_states()})
    trees = [(str(p.relative_to(ROOT.parent)), ast.parse(p.read_text(encoding="utf-8"))) for p in _source_files()]
    # A parameter learns its classes from the calls; a parameter passed on learns them a pass later.
    while True:
        known = scanner.param_facts()
        scanner.refs.clear()
        for path, tree in trees:
            scanner.walk(tree, scanner.bindings(tree, {}), path)
        if scanner.param_facts() == known:
            return scanner.refs


def bound_handlers() -> set[str]:
    """The allow-listed handlers ("State.handler") the scanned code mentions, directly or through a subclass."""
    refs = handler_references()
    classes = {cls.__name__: cls for cls in app_states()}
    return {key for key, (cls, name) in all_handlers().items()
            if any(attr == name and issubclass(classes[c], cls) for c, attr in refs)}


def unreferenced_handlers() -> list[str]:
    return sorted(set(all_handlers()) - bound_handlers() - set(CALLED_FROM_JAVASCRIPT))


def test_every_handler_is_bound_by_a_page_or_component():
    missing = unreferenced_handlers()
    assert not missing, (
        "event handlers no page, component or on_load binds (a remote endpoint with no caller): "
        + ", ".join(missing)
        + ". Bind each where the page uses it (`on_click=State.handler`), delete it with its TABLE row in "
          "tests/security/test_authorization_matrix.py, or, if only a script calls it by name, list it in "
          "CALLED_FROM_JAVASCRIPT with where the script lives.")


def test_javascript_exceptions_are_real_and_needed():
    handlers = all_handlers()
    gone = sorted(set(CALLED_FROM_JAVASCRIPT) - set(handlers))
    assert not gone, f"CALLED_FROM_JAVASCRIPT names handlers that no longer exist: {', '.join(gone)}"
    assert all(where.strip() for where in CALLED_FROM_JAVASCRIPT.values()), "say where each script calls it"
    bound = sorted(set(CALLED_FROM_JAVASCRIPT) & bound_handlers())
    assert not bound, f"bound in Python after all, drop from CALLED_FROM_JAVASCRIPT: {', '.join(bound)}"


def test_the_scan_resolves_aliases_and_parameters():
    """The scan sees through the ways the pages name states (else it would pass by finding nothing)."""
    refs = handler_references()
    assert ("CheckinState", "submit_checkin") in refs  # `import CheckinState as S`, then S.submit_checkin
    assert ("CmsCourseState", "save_course") in refs  # `s = CmsCourseState` inside a page function
    assert ("SearchState", "change_sort") in refs and ("CategoryState", "change_sort") in refs  # via a parameter
    assert ("BrandState", "load_brand") in refs  # a state handler returning another state's event
