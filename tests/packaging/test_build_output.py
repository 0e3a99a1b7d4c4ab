"""build.py: content-hashed names the loader and manifest.json point to, byte-identical output."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from collector.static import HASHED_NAME

ROOT = Path(__file__).resolve().parents[2]
UNHASHED = {"tracker.js", "tracker.d.ts", "manifest.json"}
TYPES = "declare const tracker: unknown;\n"


def _build_copy(where: Path) -> Path:
    """Run build.py in a copy of the sources at ``where`` (with a tracker.d.ts); its dist/."""
    where.mkdir()
    shutil.copy2(ROOT / "build.py", where / "build.py")
    for name in ("tracker", "loader", "compiled"):
        shutil.copytree(ROOT / name, where / name, ignore=shutil.ignore_patterns("__pycache__"))
    (where / "loader" / "tracker.d.ts").write_text(TYPES)
    (where / "node_modules").symlink_to(ROOT / "node_modules")
    subprocess.run([sys.executable, "build.py"], cwd=where, check=True, capture_output=True)
    return where / "dist"


def _tree(dist: Path) -> dict[str, bytes]:
    return {p.relative_to(dist).as_posix(): p.read_bytes() for p in dist.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("builds")
    return _build_copy(tmp / "one"), _build_copy(tmp / "another-path")


def test_same_sources_give_byte_identical_dist(builds: tuple[Path, Path]) -> None:
    first, second = builds
    assert _tree(first) == _tree(second)


def test_every_name_but_the_entry_points_carries_its_content_hash(
    builds: tuple[Path, Path],
) -> None:
    """Files and runtime directories are named `<name>.<hash>`; the hash of a file is its
    content's; the collector's HASHED_NAME (immutable caching) recognises each of them."""
    dist = builds[0]
    tree = _tree(dist)
    assert UNHASHED <= set(tree)
    for path in tree:
        if path in UNHASHED:
            assert not HASHED_NAME.search(path), path
        else:
            assert HASHED_NAME.search(path), path
    for path in (p for p in tree if "/" not in p and p not in UNHASHED):
        digest = hashlib.sha256(tree[path]).hexdigest()[:10]
        assert path.split(".")[-2] == digest, path


def test_manifest_and_loader_name_the_hashed_files(builds: tuple[Path, Path]) -> None:
    dist = builds[0]
    manifest = json.loads((dist / "manifest.json").read_text())
    assert set(manifest) == {
        "tracker-mpy.zip",
        "tracker-mpy.romfs",
        "tracker-py.zip",
        "tracker-pyodide.snapshot",
        "tracker-pyodide-stdlib.zip",
        "micropython/",
        "pyodide/",
        "pyscript/",
    }
    loader = (dist / "tracker.js").read_text()
    for plain, hashed in manifest.items():
        assert (dist / hashed).exists(), hashed
        assert hashed != plain and f'"{hashed}"' in loader
    assert (dist / manifest["micropython/"] / "micropython.wasm").is_file()
    assert (dist / manifest["pyodide/"] / "pyodide.asm.wasm").is_file()
    assert (dist / manifest["pyscript/"] / "core.js").is_file()


def test_type_declarations_are_copied_unhashed(builds: tuple[Path, Path]) -> None:
    assert (builds[0] / "tracker.d.ts").read_text() == TYPES


def _romfs_files(image: bytes) -> dict[str, tuple[int, bytes]]:
    """Decode a ROMFS image as MicroPython's VfsRom reads it: {path: (data offset, data)}."""

    def uint(at: int) -> tuple[int, int]:
        value = 0
        while True:
            byte = image[at]
            at += 1
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                return value, at

    def records(at: int, end: int, prefix: str, out: dict[str, tuple[int, bytes]]) -> None:
        while at < end:
            kind, at = uint(at)
            length, at = uint(at)
            record_end = at + length
            if kind in (4, 5):  # directory, file
                name_length, at = uint(at)
                name = prefix + image[at : at + name_length].decode()
                at += name_length
                if kind == 4:
                    records(at, record_end, name + "/", out)
                else:
                    while at < record_end:
                        inner, at = uint(at)
                        size, at = uint(at)
                        if inner == 2:  # verbatim data
                            out[name] = (at, image[at : at + size])
                        at += size
            at = record_end

    kind, at = uint(0)
    assert kind == 0x14A6B1 and image[:3] == b"\xd2\xcd\x31"
    length, at = uint(at)
    assert at + length == len(image)
    files: dict[str, tuple[int, bytes]] = {}
    records(at, len(image), "", files)
    return files


def test_romfs_image_holds_the_compiled_modules_aligned(builds: tuple[Path, Path]) -> None:
    """The loader's ROMFS image has exactly the .mpy files of tracker-mpy.zip, each file's
    bytes 8-aligned (MicroPython runs the bytecode in place)."""
    dist = builds[0]
    manifest = json.loads((dist / "manifest.json").read_text())
    with zipfile.ZipFile(dist / manifest["tracker-mpy.zip"]) as archive:
        expected = {name: archive.read(name) for name in archive.namelist()}
    files = _romfs_files((dist / manifest["tracker-mpy.romfs"]).read_bytes())
    assert {name: data for name, (_, data) in files.items()} == expected
    assert "tracker/browser.mpy" in files
    assert all(offset % 8 == 0 for offset, _ in files.values())


def test_pyodide_snapshot_matches_the_runtime_and_imports_the_tracker(
    builds: tuple[Path, Path],
) -> None:
    """The memory snapshot the loader restores on Pyodide: Pyodide's snapshot header, taken
    by the pinned runtime shipped beside it, with every tracker module already imported."""
    dist = builds[0]
    manifest = json.loads((dist / "manifest.json").read_text())
    snapshot = (dist / manifest["tracker-pyodide.snapshot"]).read_bytes()
    header = memoryview(snapshot)[:16].cast("I")
    assert header[1] % 16 == 0 and header[1] < len(snapshot)
    config = json.loads(snapshot[48 : 48 + header[2]])  # after magic, sizes, build id
    assert "hiwireKeys" in config
    wasm = (dist / manifest["pyodide/"] / "pyodide.asm.wasm").stat().st_size
    assert len(snapshot) - header[1] > wasm  # the interpreter's memory, not a stub
    for module in ("tracker/browser.py", "tracker/delivery.py", "tracker/recorder.py"):
        assert module.encode() in snapshot, module
    stdlib = zipfile.ZipFile(dist / manifest["tracker-pyodide-stdlib.zip"]).namelist()
    assert "json/__init__.py" not in stdlib and "asyncio/tasks.py" not in stdlib  # in the snapshot
    assert "encodings/latin_1.py" in stdlib and "email/utils.py" in stdlib  # imported on demand
    full = zipfile.ZipFile(dist / manifest["pyodide/"] / "python_stdlib.zip").namelist()
    assert "json/__init__.py" in full  # plain Pyodide and PyScript pages start Python themselves
