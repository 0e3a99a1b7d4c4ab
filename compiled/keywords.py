"""Keyword arguments turned into positional ones at compile time.

Transcrypt passes keyword arguments only with its `-k` switch, which puts a preamble
into every compiled function (about an eighth of the bundle). The tracker's own calls
name few keywords, and the callee is always one of its own functions, so the lowering
looks the callee up by name here and writes the arguments in order, filling skipped
parameters with their (constant) defaults.
"""

from __future__ import annotations

import ast

__all__ = ["Signatures", "positional"]


class Signatures:
    """Parameter lists of every function, method and class (its `__init__`) in some
    modules, by name; methods and classes without `self`."""

    def __init__(self, sources: list[str]) -> None:
        self.by_name: dict[str, list[ast.arguments]] = {}
        for source in sources:
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.ClassDef):
                    for item in node.body:
                        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                            self._add(node.name, item.args, True)
                elif isinstance(node, ast.FunctionDef):
                    self._add(node.name, node.args, _is_method(node))

    def _add(self, name: str, args: ast.arguments, method: bool) -> None:
        params = ast.arguments(
            args.posonlyargs,
            args.args[1:] if method else args.args,
            args.vararg,
            args.kwonlyargs,
            args.kw_defaults,
            args.kwarg,
            args.defaults,
        )
        self.by_name.setdefault(name, []).append(params)


def _is_method(node: ast.FunctionDef) -> bool:
    first = node.args.args[0].arg if node.args.args else ""
    return first in ("self", "cls")


def positional(call: ast.Call, signatures: Signatures) -> list[ast.expr] | None:
    """The arguments of `call` in order, without keywords, when every function of that
    name taking those keywords agrees on them; None when unknown or ambiguous."""
    func = call.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    if name is None or any(isinstance(a, ast.Starred) for a in call.args):
        return None
    wanted = {k.arg for k in call.keywords}
    answers = set()
    result: list[ast.expr] | None = None
    for params in signatures.by_name.get(name, []):
        if not wanted <= {a.arg for a in params.args}:
            continue  # cannot be the callee: Python would raise TypeError
        placed = _place(call, params)
        if placed is None:
            return None
        answers.add(ast.dump(ast.Tuple(placed, ast.Load())))
        result = placed
    return result if len(answers) == 1 else None


def _place(call: ast.Call, params: ast.arguments) -> list[ast.expr] | None:
    if params.posonlyargs or params.kwonlyargs:
        return None
    names = [a.arg for a in params.args]
    given = {k.arg: k.value for k in call.keywords if k.arg is not None}
    if len(call.args) > len(names) or not set(given) <= set(names[len(call.args) :]):
        return None
    first_default = len(names) - len(params.defaults)
    last = max(names.index(k) for k in given)
    out = list(call.args)
    for index in range(len(call.args), last + 1):
        if names[index] in given:
            out.append(given[names[index]])
        elif index >= first_default:
            default = params.defaults[index - first_default]
            if not isinstance(default, ast.Constant):
                return None
            out.append(ast.Constant(default.value))
        else:
            return None
    return out
