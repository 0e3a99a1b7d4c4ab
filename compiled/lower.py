"""Lower portable Python to the dialect Transcrypt compiles, and refuse what it cannot.

The tracker's source stays plain Python (CPython, MicroPython, Pyodide). Before
Transcrypt sees a module, this pass rewrites the few constructs whose meaning differs
in JavaScript and rejects the ones with no faithful translation, naming file and line:

- relative imports become absolute (`from .x import y` -> `from tracker.x import y`);
- `if TYPE_CHECKING:` blocks and annotations go (they exist for mypy only);
- `frozenset(...)` becomes `set(...)` and a bare `object()` sentinel a fresh dict;
- a module-level `for n in NAMES: globals()[n] = f(n)` becomes one assignment per name;
- `with` becomes `__enter__` and a `try` whose `finally` calls `__exit__`;
- generator expressions become list comprehensions (Transcrypt's are one-shot iterators);
- `a == b` / `a != b` call `pycompat.eq`: lists and dicts compare by value, as in Python;
- `a + b` and `a += b` call `pycompat.add` unless one side is surely a number or string
  (JS `+` joins two lists into a string);
- `x[-n]` reads `x[len(x) - n]`; `"ab" * n` (a str, list or bytes literal) calls `pycompat.mul`;
- keyword arguments become positional (compiled/keywords.py), so no `-k` preamble;
- `"..." % args` calls `pycompat.fmt` (printf-style `%s %r %d %x` with width and `0`).

Anything else outside the subset written down in docs/architecture.md (`globals()`,
`**kwargs` at a call site, `async`, `yield`, f-string format specs) raises `SubsetError`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from compiled.keywords import Signatures, positional

__all__ = ["SubsetError", "lower_module", "lower_source"]

COMPAT = "pycompat"
# Modules of the interpreters' hosts: an import of one inside a function becomes
# `raise ImportError`, which those functions already expect where the module is missing.
# Methods of lists, dicts and sets that code passes around as callables (`warnings.append`):
# JS calls them without their object, so a value use becomes a lambda that keeps it.
BOUND_METHODS = {"append", "extend", "add", "get", "pop", "remove", "update", "insert"}
# Python exceptions Transcrypt's runtime lacks: pycompat defines them.
EXTRA_BUILTINS = ("ImportError", "OSError", "RuntimeError", "UnicodeError")
# tracker.host_helpers is the helpers' JS source, which the compiled build gets from the
# loader instead.
HOST_ONLY = {"os", "sys", "time", "js", "pyodide.ffi", "_tracker_host", "tracker.host_helpers"}
_EQ = "_py_eq"
_FMT = "_py_fmt"
_ADD = "_py_add"
_MUL = "_py_mul"
_SCALAR_CALLS = {"str", "len", "int", "float", "ord", "chr", "repr", "round", "abs", "min", "max"}


class SubsetError(ValueError):
    """A construct outside the portable subset, with the file and line it is on."""


class _Lower(ast.NodeTransformer):
    def __init__(
        self, package: str, filename: str, strict: bool, signatures: Signatures | None
    ) -> None:
        self.package = package
        self.signatures = signatures
        self.filename = filename
        self.strict = strict
        self.used: set[str] = set()
        self.called: set[int] = set()
        self.withs = 0

    def refuse(self, node: ast.AST, what: str) -> SubsetError:
        line = getattr(node, "lineno", 0)
        return SubsetError(f"{self.filename}:{line}: {what} is outside the portable subset")

    # imports and typing -------------------------------------------------------------
    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        if node.module in ("__future__", "typing"):
            return ast.Pass()
        if node.level:
            parts = self.package.split(".")
            base = parts[: len(parts) - node.level + 1]
            module = ".".join(base + ([node.module] if node.module else []))
            node = ast.copy_location(ast.ImportFrom(module, node.names, 0), node)
        return self._host_only(node, node.module or "") or node

    def visit_Import(self, node: ast.Import) -> ast.AST:
        for alias in node.names:
            missing = self._host_only(node, alias.name)
            if missing is not None:
                return missing
        return node

    def _host_only(self, node: ast.stmt, module: str) -> ast.stmt | None:
        if module not in HOST_ONLY:
            return None
        if node.col_offset == 0:
            raise self.refuse(node, "a module-level import of %s" % module)
        message = ast.Constant("%s is not part of the compiled build" % module)
        self.used.add("ImportError")
        error = ast.Call(ast.Name("ImportError", ast.Load()), [message], [])
        return ast.copy_location(ast.Raise(error, None), node)

    def visit_If(self, node: ast.If) -> ast.AST | list[ast.stmt]:
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return [ast.Pass()] if not node.orelse else [self.visit(s) for s in node.orelse]
        self.generic_visit(node)
        return node

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        targets = node.targets
        if len(targets) == 1 and isinstance(targets[0], ast.Name):
            if targets[0].id == "TYPE_CHECKING":
                return ast.Pass()
        self.generic_visit(node)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is None:
            return ast.Pass()
        value = self.visit(node.value)
        return ast.copy_location(ast.Assign([node.target], value), node)

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.annotation = None
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.returns = None
        if node.args.kwarg is not None and self.strict:
            raise self.refuse(node, "a **kwargs parameter")
        self.generic_visit(node)
        return node

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        raise self.refuse(node, "async def")

    def visit_Yield(self, node: ast.Yield) -> ast.AST:
        raise self.refuse(node, "yield")

    def visit_YieldFrom(self, node: ast.YieldFrom) -> ast.AST:
        raise self.refuse(node, "yield from")

    # values -------------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in EXTRA_BUILTINS:
            self.used.add(node.id)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        if (
            node.attr in BOUND_METHODS
            and isinstance(node.ctx, ast.Load)
            and id(node) not in self.called
        ):
            args = ast.arguments([], [], ast.arg("args"), [], [], None, [])
            star = ast.Starred(ast.Name("args", ast.Load()), ast.Load())
            call = ast.Call(node, [star], [])
            self.called.add(id(node))
            return ast.copy_location(ast.Lambda(args, call), node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.called.add(id(node.func))
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Name):
            if func.id == "frozenset":
                node.func = ast.copy_location(ast.Name("set", ast.Load()), func)
            elif func.id == "object" and not node.args and not node.keywords:
                return ast.copy_location(ast.Dict([], []), node)
            elif func.id == "globals" and self.strict:
                raise self.refuse(node, "globals()")
        if self.strict and any(k.arg is None for k in node.keywords):
            raise self.refuse(node, "**kwargs at a call")
        if node.keywords and self.signatures is not None:
            placed = positional(node, self.signatures)
            if placed is not None:
                node.args, node.keywords = placed, []
            elif self.strict:
                raise self.refuse(node, "a keyword argument to a function not found by name")
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        if not any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops):
            return node
        operands = [node.left] + node.comparators
        parts = [self._compare(operands[i], op, operands[i + 1]) for i, op in enumerate(node.ops)]
        if len(parts) == 1:
            return ast.copy_location(parts[0], node)
        return ast.copy_location(ast.BoolOp(ast.And(), parts), node)

    def _compare(self, left: ast.expr, op: ast.cmpop, right: ast.expr) -> ast.expr:
        """One link of a (possibly chained) comparison; its middle operands are simple
        names or constants in our code, so evaluating them twice is harmless."""
        if not isinstance(op, (ast.Eq, ast.NotEq)):
            return ast.Compare(left, [op], [right])
        self.used.add(_EQ)
        call = ast.Call(ast.Name(_EQ, ast.Load()), [left, right], [])
        return ast.UnaryOp(ast.Not(), call) if isinstance(op, ast.NotEq) else call

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        if not isinstance(node.op, ast.Add) or _is_scalar(node.value):
            return node
        self.used.add(_ADD)
        load = _as_load(node.target)
        call = ast.Call(ast.Name(_ADD, ast.Load()), [load, node.value], [])
        return ast.copy_location(ast.Assign([node.target], call), node)

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        """`x[-n]` reads `x[len(x) - n]`: a JS array has no negative indices."""
        self.generic_visit(node)
        index = node.slice
        if (
            isinstance(index, ast.UnaryOp)
            and isinstance(index.op, ast.USub)
            and isinstance(index.operand, ast.Constant)
            and isinstance(index.operand.value, int)
        ):
            length = ast.Call(ast.Name("len", ast.Load()), [_as_load(node.value)], [])
            node.slice = ast.BinOp(length, ast.Sub(), index.operand)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Mult) and (_is_sequence(node.left) or _is_sequence(node.right)):
            self.used.add(_MUL)
            call = ast.Call(ast.Name(_MUL, ast.Load()), [node.left, node.right], [])
            return ast.copy_location(call, node)
        if isinstance(node.op, ast.Add) and not (_is_scalar(node.left) or _is_scalar(node.right)):
            self.used.add(_ADD)
            call = ast.Call(ast.Name(_ADD, ast.Load()), [node.left, node.right], [])
            return ast.copy_location(call, node)
        left = node.left
        is_text = isinstance(left, ast.Constant) and isinstance(left.value, str)
        if isinstance(node.op, ast.Mod) and (is_text or isinstance(left, ast.BinOp)):
            if not is_text and not _is_text_expr(left):
                return node
            self.used.add(_FMT)
            call = ast.Call(ast.Name(_FMT, ast.Load()), [left, node.right], [])
            return ast.copy_location(call, node)
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        """A bytes literal: Transcrypt has none, so `bytes([...])` of its values."""
        if isinstance(node.value, bytes):
            values: list[ast.expr] = [ast.Constant(b) for b in node.value]
            call = ast.Call(ast.Name("bytes", ast.Load()), [ast.List(values, ast.Load())], [])
            return ast.copy_location(call, node)
        return node

    def visit_With(self, node: ast.With) -> list[ast.stmt]:
        """`__enter__`, then the body in `try` with `__exit__` in `finally`: Transcrypt's own
        `with` skips `__exit__` when the body returns. Exits must not swallow exceptions."""
        self.generic_visit(node)
        body: list[ast.stmt] = node.body
        for item in reversed(node.items):
            self.withs += 1
            name = "_py_with%d" % self.withs
            manager = ast.Name(name, ast.Load())
            enter = ast.Call(ast.Attribute(manager, "__enter__", ast.Load()), [], [])
            none = ast.Constant(None)
            leave = ast.Call(ast.Attribute(manager, "__exit__", ast.Load()), [none] * 3, [])
            bind: ast.stmt = (
                ast.Assign([item.optional_vars], enter) if item.optional_vars else ast.Expr(enter)
            )
            body = [
                ast.Assign([ast.Name(name, ast.Store())], item.context_expr),
                bind,
                ast.Try(body, [], [], [ast.Expr(leave)]),
            ]
        return [ast.copy_location(stmt, node) for stmt in body]

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> ast.AST:
        """A list: Transcrypt's generator expressions are iterators that `sorted` cannot take."""
        self.generic_visit(node)
        return ast.copy_location(ast.ListComp(node.elt, node.generators), node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        if node.format_spec is not None or node.conversion not in (-1, 115):
            raise self.refuse(node, "an f-string conversion or format spec")
        self.generic_visit(node)
        return node


def _is_scalar(node: ast.AST) -> bool:
    """An expression that is surely a number or a string, so JS `+` means Python's `+`."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (str, int, float)) and not isinstance(node.value, bool)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id in _SCALAR_CALLS or node.func.id == _FMT
    if isinstance(node, ast.BinOp):
        return _is_scalar(node.left) or _is_scalar(node.right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _is_scalar(node.operand)
    return False


def _is_sequence(node: ast.AST) -> bool:
    """A string, list or bytes literal (or `bytes([...])`): `*` repeats it."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, (ast.List, ast.Tuple, ast.JoinedStr)):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id == "bytes"
    return False


def _as_load(target: ast.expr) -> ast.expr:
    """The value of an assignment target (`self.x`, `a[i]`, `n`), read."""
    copy = ast.parse(ast.unparse(target), mode="eval").body
    return copy


def _is_text_expr(node: ast.AST) -> bool:
    """A string built by `+` from string literals (a `%` format split over lines)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_text_expr(node.left) and _is_text_expr(node.right)
    return False


def lower_source(
    source: str,
    module: str,
    filename: str = "<source>",
    strict: bool = True,
    signatures: Signatures | None = None,
) -> str:
    """`source` of module `module` (dotted), lowered for Transcrypt; raises SubsetError.
    With `signatures`, keyword arguments become positional (see compiled/keywords.py)."""
    tree = ast.parse(source, filename)
    package = module if filename.endswith("__init__.py") else module.rpartition(".")[0]
    tree.body = _unroll_globals(tree.body)
    lowering = _Lower(package or module, filename, strict, signatures)
    tree = lowering.visit(tree)
    if lowering.used:
        names = [ast.alias("eq", _EQ)] if _EQ in lowering.used else []
        names += [ast.alias("fmt", _FMT)] if _FMT in lowering.used else []
        names += [ast.alias("add", _ADD)] if _ADD in lowering.used else []
        names += [ast.alias("mul", _MUL)] if _MUL in lowering.used else []
        names += [ast.alias(name) for name in EXTRA_BUILTINS if name in lowering.used]
        at = 1 if tree.body and _is_docstring(tree.body[0]) else 0
        tree.body.insert(at, ast.ImportFrom(COMPAT, names, 0))
    ast.fix_missing_locations(tree)
    return ast.unparse(tree) + "\n"


def _unroll_globals(body: list[ast.stmt]) -> list[ast.stmt]:
    """`for n in NAMES: globals()[n] = f(n)` at module level, with NAMES a tuple of string
    literals, becomes one `name = f("name")` per name: ES modules export fixed names."""
    names: dict[str, list[str]] = {}
    out: list[ast.stmt] = []
    for stmt in body:
        if (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and isinstance(stmt.value, ast.Tuple)
            and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in stmt.value.elts
            )
        ):
            names[stmt.targets[0].id] = [e.value for e in stmt.value.elts]  # type: ignore[attr-defined]
        unrolled = _unrolled(stmt, names)
        out.extend(unrolled if unrolled is not None else [stmt])
    return out


def _unrolled(stmt: ast.stmt, names: dict[str, list[str]]) -> list[ast.stmt] | None:
    if not (
        isinstance(stmt, ast.For)
        and isinstance(stmt.target, ast.Name)
        and isinstance(stmt.iter, ast.Name)
        and stmt.iter.id in names
        and len(stmt.body) == 1
        and not stmt.orelse
    ):
        return None
    assign = stmt.body[0]
    if not (isinstance(assign, ast.Assign) and len(assign.targets) == 1):
        return None
    target = assign.targets[0]
    if not (
        isinstance(target, ast.Subscript)
        and isinstance(target.value, ast.Call)
        and isinstance(target.value.func, ast.Name)
        and target.value.func.id == "globals"
        and isinstance(target.slice, ast.Name)
        and target.slice.id == stmt.target.id
    ):
        return None
    loop = stmt.target.id
    out: list[ast.stmt] = []
    for name in names[stmt.iter.id]:
        value = _Substitute(loop, name).visit(
            ast.parse(ast.unparse(assign.value), mode="eval").body
        )
        out.append(ast.copy_location(ast.Assign([ast.Name(name, ast.Store())], value), stmt))
    return out


class _Substitute(ast.NodeTransformer):
    """Replace reads of variable `name` with the string literal `value`."""

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = value

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id == self.name and isinstance(node.ctx, ast.Load):
            return ast.copy_location(ast.Constant(self.value), node)
        return node


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)


def lower_module(
    path: Path,
    root: Path,
    target: Path,
    strict: bool = True,
    signatures: Signatures | None = None,
) -> Path:
    """Lower the module at `path` (under `root`) into the same relative place under `target`."""
    relative = path.relative_to(root)
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    source = path.read_text(encoding="utf-8")
    out = target / relative
    out.parent.mkdir(parents=True, exist_ok=True)
    lowered = lower_source(source, ".".join(parts), relative.as_posix(), strict, signatures)
    out.write_text(lowered, "utf-8")
    return out
