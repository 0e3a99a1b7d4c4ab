"""Compile Python modules to JavaScript with the pinned Transcrypt, then bundle with esbuild.

`transpile()` lowers each module (compiled/lower.py), adds the shims Transcrypt-only code
needs (compiled/shims/: `json`, `binascii`, `pycompat`), runs Transcrypt on an entry
module and patches its runtime where it parts from Python (`int` is 32-bit there).
`bundle()` turns the ES modules into one script with the pinned esbuild from npm.
Both are deterministic: the same sources give the same bytes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from compiled.keywords import Signatures
from compiled.lower import lower_module

__all__ = [
    "TRANSCRYPT_FLAGS",
    "bundle",
    "find_esbuild",
    "find_transcrypt",
    "minify",
    "patched_runtime",
    "prune_runtime",
    "transpile",
]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHIMS = HERE / "shims"
TRANSCRYPT_VERSION = "3.9.5"
# -t Python truthiness ([] and {} are false), -i iteration over dicts and strings, -n
# readable output (esbuild minifies), -b a full build every time. No -k: compiled/keywords.py
# makes keyword arguments positional first.
TRANSCRYPT_FLAGS = ["-b", "-n", "-t", "-i"]
RUNTIME = "org.transcrypt.__runtime__.js"

_INT_BEFORE = "export function int (any) {\n    return float (any) | 0\n};"
_INT_AFTER = r"""export function int (any, base) {
    if (base !== undefined || typeof any === 'string') {
        var radix = base === undefined ? 10 : base;
        var text = String (any).trim ().toLowerCase ();
        var body = text [0] === '-' || text [0] === '+' ? text.slice (1) : text;
        var digits = '0123456789abcdefghijklmnopqrstuvwxyz'.slice (0, radix);
        var bad = !body.length ||
            body.split ('').some (function (c) { return digits.indexOf (c) < 0; });
        if (bad) {
            var problem = 'invalid literal for int() with base ' + radix + ': ' + repr (any);
            throw ValueError (problem, new Error ());
        }
        return parseInt (text, radix);
    }
    return Math.trunc (float (any));
};"""
_BYTES_BEFORE = (
    "        else if (aType == list || aType == tuple) {\n"
    "            return new Uint8Array (bytable);"
)
_BYTES_AFTER = (
    "        else if (aType == list || aType == tuple || bytable instanceof Uint8Array) {\n"
    "            return new Uint8Array (bytable);"
)
_DICT_ITER_BEFORE = (
    "__setproperty__ (instance, Symbol.iterator, {value: function () "
    "{new __JsIterator__ (this.py_keys ());}, enumerable: false});"
)
_DICT_ITER_AFTER = (
    "__setproperty__ (instance, Symbol.iterator, {value: function () "
    "{return this.py_keys () [Symbol.iterator] ();}, enumerable: false});"
)
_SET_BEFORE = (
    "    let instance = [];\n    if (iterable) {\n"
    "        for (let index = 0; index < iterable.length; index++) {"
)
_SET_AFTER = (
    "    let instance = [];\n    if (iterable) {\n"
    "        if (iterable.length === undefined) iterable = Array.from (iterable);\n"
    "        for (let index = 0; index < iterable.length; index++) {"
)
_ISINSTANCE_BEFORE = (
    (
        "export function isinstance (anObject, classinfo) {\n"
        "    try {\n"
        "        return '__class__' in anObject ? issubclass (anObject.__class__, classinfo) "
        ": issubclass (py_typeof (anObject), classinfo);\n"
        "    }"
    )
    + """
    catch (exception) {
        return issubclass (py_typeof (anObject), classinfo);
    }
};"""
)
_ISINSTANCE_AFTER = """export function isinstance (anObject, classinfo) {
    var aType = typeof anObject;
    var holder = anObject != null && (aType === 'object' || aType === 'function');
    if (holder && '__class__' in anObject) {
        return issubclass (anObject.__class__, classinfo);
    }
    return issubclass (py_typeof (anObject), classinfo);
};"""
_TUPLE_BEFORE = "    let instance = iterable ? [] .slice.apply (iterable) : [];"
_TUPLE_AFTER = (
    "    let instance = !iterable ? [] : iterable.length === undefined ? "
    "Array.from (iterable) : [] .slice.apply (iterable);"
)
_FORMAT_BEFORE = "    enumerable: true\n});"
_FORMAT_AFTER = "    enumerable: false\n});"
# Python's int has no 32-bit limit (timestamps in milliseconds need more) and takes a
# base; str.format must not show in for...in over a string (it is the one enumerable,
# non-configurable addition: the loader hides the others); isinstance() of a str or
# number answers without throwing and catching a TypeError (`'x' in 'abc'`), which cost
# tens of microseconds per call; list(d), tuple(d), set(d) and sorted(d) of a dict give
# its keys; bytearray() takes bytes.
RUNTIME_PATCHES = [
    (_INT_BEFORE, _INT_AFTER),
    (_FORMAT_BEFORE, _FORMAT_AFTER),
    (_ISINSTANCE_BEFORE, _ISINSTANCE_AFTER),
    (_TUPLE_BEFORE, _TUPLE_AFTER),
    (_BYTES_BEFORE, _BYTES_AFTER),
    (_DICT_ITER_BEFORE, _DICT_ITER_AFTER),
    (_SET_BEFORE, _SET_AFTER),
]


def find_transcrypt() -> str:
    """The pinned transcrypt next to this Python, else on PATH."""
    beside = Path(sys.executable).with_name("transcrypt")
    tool = str(beside) if beside.exists() else shutil.which("transcrypt")
    if tool is None:
        raise SystemExit("build: transcrypt not found; run with .venv/bin/python")
    return tool


def find_esbuild() -> str:
    """The pinned esbuild from node_modules (`npm ci`)."""
    tool = ROOT / "node_modules" / ".bin" / "esbuild"
    if not tool.exists():
        raise SystemExit("build: node_modules/.bin/esbuild not found; run npm ci")
    return str(tool)


def transpile(
    packages: list[Path],
    entry: str,
    work: Path,
    extra_flags: list[str] | None = None,
    modules: list[Path] | None = None,
) -> Path:
    """Lower every module of `packages` (folders under the repository) and the top-level
    `modules` (test files: lowered leniently) into `work/src`, compile `entry` (Python
    source of the main module) and return Transcrypt's output folder."""
    src = work / "src"
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    sources = [
        (package, path)
        for package in packages
        for path in sorted(package.rglob("*.py"))
        if "__pycache__" not in path.parts
    ]
    signatures = Signatures([path.read_text(encoding="utf-8") for _, path in sources])
    for package, path in sources:
        init = path.name == "__init__.py" and path.parent.name == "tracker"
        lower_module(path, package.parent, src, not init, signatures)
    for path in modules or []:
        lower_module(path, path.parent, src, strict=False)
    for shim in sorted(SHIMS.glob("*.py")):
        shutil.copyfile(shim, src / shim.name)
    (src / "main.py").write_text(entry, encoding="utf-8")
    flags = TRANSCRYPT_FLAGS + (extra_flags or [])
    result = subprocess.run(
        [find_transcrypt(), *flags, "main.py"], cwd=src, capture_output=True, text=True
    )
    target = src / "__target__"
    if result.returncode != 0 or "Error while compiling" in result.stdout:
        raise SystemExit("build: transcrypt failed:\n" + result.stdout[-3000:] + result.stderr)
    runtime = target / RUNTIME
    others = [path.read_text(encoding="utf-8") for path in target.glob("*.js") if path != runtime]
    text = patched_runtime(runtime.read_text(encoding="utf-8"), others)
    runtime.write_text(text, encoding="utf-8")
    return target


def patched_runtime(text: str, modules: list[str]) -> str:
    """Transcrypt's runtime with RUNTIME_PATCHES, print() on the console and only what
    `modules` (the compiled ones) reach; stops the build if Transcrypt changed."""
    for before, after in RUNTIME_PATCHES:
        if text.count(before) != 1:
            raise SystemExit(f"build: Transcrypt {TRANSCRYPT_VERSION} changed: {before!r}")
        text = text.replace(before, after)
    text, found = _TERMINAL.subn(_CONSOLE, text)
    if found != 1:
        raise SystemExit(f"build: Transcrypt {TRANSCRYPT_VERSION} changed: no __Terminal__")
    return prune_runtime(text, modules)


# Transcrypt's print() writes to a page element with id `__terminal__`, which it looks up
# and styles as the runtime loads: the tracker must not touch the host page, so print()
# goes to the console and input() is refused.
_TERMINAL = re.compile(
    r"^export var __Terminal__ = .*?^export var input = __terminal__\.input;$", re.M | re.S
)
_CONSOLE = (
    "export var __Terminal__ = null;\n"
    "export var __terminal__ = null;\n"
    "export function print () {\n"
    "    console.log ([].slice.apply (arguments).map (str).join (' '));\n"
    "};\n"
    "export function input () {\n"
    "    throw NotImplementedError ('input', new Error ());\n"
    "};"
)
_PROTOTYPE = re.compile(r"(\w+)\.prototype\.(\w+) = |__setproperty__ \((\w+)\.prototype, '(\w+)'")
# pycompat's own str/list methods (strip with characters, ...) replace the runtime's.
_SHIM_METHOD = re.compile(r"define \((?:String|Array)\.prototype, '(\w+)'")
_FUNCTION = re.compile(r"(?:export )?function (\w+) ")
_WORD = re.compile(r"\w+")
_IMPORT = re.compile(r"^import .*$", re.M)


def prune_runtime(runtime: str, modules: list[str]) -> str:
    """Transcrypt's runtime without the methods it adds to prototypes (str.capitalize on
    String.prototype, list slice assignment on Array.prototype, its own iterator classes')
    that no code reachable from the compiled modules names: a bundler cannot drop those,
    since assigning to a prototype is a side effect. Reachable: the modules (without their
    import lines), the runtime's statements other than functions and such methods, and
    every function and method they name, transitively (a method also needs its class
    named). Methods the shims define again are dropped too."""
    chunks = re.split(r"\n(?=[^\s})\]])", runtime)
    names: list[str | None] = []
    owners: list[str | None] = []
    methods: list[bool] = []
    for chunk in chunks:
        method, function = _PROTOTYPE.match(chunk), _FUNCTION.match(chunk)
        methods.append(method is not None)
        if method is not None:
            owners.append(method.group(1) or method.group(3))
            names.append(method.group(2) or method.group(4))
        else:
            owners.append(None)
            names.append(function.group(1) if function is not None else None)
    reached = [name is None for name in names]
    used = set(_WORD.findall(" ".join(_IMPORT.sub("", m) for m in modules)))
    for chunk, root in zip(chunks, reached, strict=True):
        if root:
            used.update(_WORD.findall(chunk))
    grown = True
    while grown:
        grown = False
        for index, name in enumerate(names):
            owner = owners[index]
            if not reached[index] and name in used and (owner is None or owner in used):
                reached[index] = grown = True
                used.update(_WORD.findall(chunks[index]))
    replaced = set(_SHIM_METHOD.findall(" ".join(modules)))
    reached = [reach and name not in replaced for reach, name in zip(reached, names, strict=True)]
    kept = zip(chunks, reached, methods, strict=True)
    return "\n".join(chunk for chunk, reach, method in kept if reach or not method)


# What every esbuild run here writes: ES2018, no comments, UTF-8 as is, warnings shown.
_ESBUILD_OUTPUT = (
    "--target=es2018",
    "--legal-comments=none",
    "--charset=utf8",
    "--log-level=warning",
)


def bundle(entry: Path, out: Path, global_name: str, minify: bool = True) -> None:
    """One IIFE script from the ES module `entry` that assigns its exports to
    `var <global_name>`; minified, without comments or source maps."""
    command = [
        find_esbuild(),
        str(entry),
        "--bundle",
        "--format=iife",
        f"--global-name={global_name}",
        f"--outfile={out}",
        *_ESBUILD_OUTPUT,
    ]
    if minify:
        command.append("--minify")
    subprocess.run(command, check=True)


def minify(script: str) -> str:
    """`script` (a classic script) minified by the pinned esbuild: same behaviour, no
    comments, shorter local names."""
    command = [find_esbuild(), "--minify", "--loader=js", *_ESBUILD_OUTPUT]
    result = subprocess.run(command, input=script, capture_output=True, text=True, check=True)
    return result.stdout
