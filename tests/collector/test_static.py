"""The demo site at ``/`` and the build at ``/dist/``: types, gzip, validators, caching, 404s."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

GZIP = {"accept-encoding": "gzip, deflate, br"}


def test_index_at_root(client: Any, site: tuple[Path, Path]) -> None:
    reply = client.get("/")
    assert reply.status == 200
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert reply.body == (site[0] / "index.html").read_bytes()


def test_subdirectory_index_and_redirect(client: Any) -> None:
    assert client.get("/sub/").text == "<p>sub</p>"
    reply = client.get("/sub")
    assert reply.status == 307
    assert reply.headers["location"].endswith("/sub/")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/demo.css", "text/css; charset=utf-8"),
        ("/demo.js", "text/javascript; charset=utf-8"),
        ("/dist/tracker.js", "text/javascript; charset=utf-8"),
        ("/dist/runtime.mjs", "text/javascript; charset=utf-8"),
        ("/dist/micropython.wasm", "application/wasm"),
        ("/dist/tracker.mpy", "application/octet-stream"),
        ("/dist/tracker.bundle", "application/octet-stream"),
        ("/dist/python_stdlib.zip", "application/zip"),
        ("/dist/lock.json", "application/json"),
    ],
)
def test_content_types(client: Any, path: str, expected: str) -> None:
    for headers in ({}, GZIP):
        reply = client.get(path, headers)
        assert reply.status == 200, path
        assert reply.headers["content-type"] == expected


@pytest.mark.parametrize(
    "path", ["/", "/demo.js", "/dist/tracker.js", "/dist/micropython.wasm", "/dist/lock.json"]
)
def test_gzip_when_accepted(client: Any, site: tuple[Path, Path], path: str) -> None:
    plain = client.get(path)
    packed = client.get(path, GZIP)
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "Accept-Encoding"
    assert int(packed.headers["content-length"]) == len(packed.body) < len(plain.body)
    assert gzip.decompress(packed.body) == plain.body
    assert packed.headers["etag"] != plain.headers["etag"]


def test_no_gzip_for_zip_or_tiny_files(client: Any) -> None:
    assert "content-encoding" not in client.get("/dist/python_stdlib.zip", GZIP).headers
    assert "content-encoding" not in client.get("/sub/", GZIP).headers


def test_gzip_cache_follows_file_changes(client: Any, site: tuple[Path, Path]) -> None:
    target = site[1] / "tracker.js"
    first = client.get("/dist/tracker.js", GZIP)
    target.write_text("window.tracker = 2;\n" * 200)
    second = client.get("/dist/tracker.js", GZIP)
    assert second.decoded() == target.read_bytes() != first.decoded()
    assert second.headers["etag"] != first.headers["etag"]


def test_dist_is_cacheable_and_revalidates(client: Any) -> None:
    first = client.get("/dist/micropython.wasm", GZIP)
    assert first.headers["cache-control"] == "public, max-age=600"
    assert first.headers["last-modified"].endswith("GMT")
    again = client.get("/dist/micropython.wasm", {**GZIP, "if-none-match": first.headers["etag"]})
    assert again.status == 304
    assert again.body == b""
    assert again.headers["etag"] == first.headers["etag"]
    since = client.get("/dist/tracker.js", {"if-modified-since": first.headers["last-modified"]})
    assert since.status == 304
    stale = client.get("/dist/tracker.js", {"if-none-match": '"nope"'})
    assert stale.status == 200


def test_versioned_dist_urls_are_immutable(client: Any) -> None:
    reply = client.get("/dist/tracker.mpy?v=abc123")
    assert reply.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_dist_max_age_zero_means_revalidate(make_client: Any) -> None:
    reply = make_client(dist_max_age=0).get("/dist/tracker.js")
    assert reply.headers["cache-control"] == "no-cache"


def test_site_pages_always_revalidate(client: Any) -> None:
    assert client.get("/").headers["cache-control"] == "no-cache"


def test_head(client: Any) -> None:
    reply = client.request("HEAD", "/dist/tracker.js")
    assert reply.status == 200
    assert reply.headers["content-type"] == "text/javascript; charset=utf-8"


def test_other_methods_refused(client: Any) -> None:
    reply = client.request("POST", "/dist/tracker.js")
    assert reply.status == 405
    assert reply.headers["allow"] == "GET, HEAD"


def test_missing_file_404(client: Any) -> None:
    assert client.get("/nope.html").status == 404
    reply = client.get("/dist/nope.js")
    assert reply.status == 404
    assert "build.py" in reply.text


def test_missing_dist_gives_build_hint(make_client: Any, tmp_path: Path) -> None:
    reply = make_client(dist_dir=tmp_path / "absent").get("/dist/tracker.js")
    assert reply.status == 404
    assert reply.headers["content-type"].startswith("text/plain")
    assert "does not exist" in reply.text
    assert "build.py" in reply.text


def test_no_escape_from_served_directory(client: Any) -> None:
    for path in ("/dist/../web/index.html", "/../db/t.db", "/dist/%2e%2e/web/index.html"):
        assert client.get(path).status == 404, path


def test_symlinked_build_files_are_served(client: Any, site: tuple[Path, Path]) -> None:
    outside = site[0].parent / "node_modules_pkg"
    outside.mkdir()
    (outside / "rt.mjs").write_text("export {};\n")
    (site[1] / "rt.mjs").symlink_to(outside / "rt.mjs")
    reply = client.get("/dist/rt.mjs")
    assert reply.status == 200
    assert reply.text == "export {};\n"


def test_healthz_route_wins_over_site(client: Any, site: tuple[Path, Path]) -> None:
    (site[0] / "healthz").write_text("static")
    assert client.get("/healthz").json() == {"ok": True}


# --- issue 14: the build from any origin, hashed names cached forever --------------------------


def test_dist_answers_any_origin_also_on_errors_and_revalidation(client: Any) -> None:
    """Everything under /dist/ (200, 304, 404) may be read by a page of any origin;
    the demo site does not say so."""
    origin = {"origin": "http://localhost:1234"}
    first = client.get("/dist/micropython.wasm", origin)
    again = client.get("/dist/micropython.wasm", {**origin, "if-none-match": first.headers["etag"]})
    missing = client.get("/dist/nope.js", origin)
    for reply in (first, again, missing):
        assert reply.headers["access-control-allow-origin"] == "*"
        assert reply.headers["cross-origin-resource-policy"] == "cross-origin"
        assert reply.headers["timing-allow-origin"] == "*"
    assert (again.status, missing.status) == (304, 404)
    assert "access-control-allow-origin" not in client.get("/", origin).headers


def test_dist_preflight_is_answered(client: Any) -> None:
    reply = client.request(
        "OPTIONS",
        "/dist/tracker.js",
        {"origin": "null", "access-control-request-method": "GET"},
    )
    assert reply.status == 204
    assert reply.headers["access-control-allow-origin"] == "*"
    assert "GET" in reply.headers["access-control-allow-methods"]


def test_hashed_names_are_immutable_and_tracker_js_short_lived(
    client: Any, site: tuple[Path, Path]
) -> None:
    """build.py's hashed files and directories are cached for a year; tracker.js is not."""
    dist = site[1]
    (dist / "tracker-mpy.0123456789.zip").write_bytes(b"PK\3\4" + bytes(64))
    (dist / "pyodide.abcdef0123").mkdir()
    (dist / "pyodide.abcdef0123" / "pyodide.asm.wasm").write_bytes(b"\0asm" + bytes(64))
    for path in ("/dist/tracker-mpy.0123456789.zip", "/dist/pyodide.abcdef0123/pyodide.asm.wasm"):
        reply = client.get(path, GZIP)
        assert reply.status == 200, path
        assert reply.headers["cache-control"] == "public, max-age=31536000, immutable", path
        again = client.get(path, {"if-none-match": reply.headers["etag"]})
        assert again.status == 304
        assert again.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert client.get("/dist/tracker.js").headers["cache-control"] == "public, max-age=600"
    assert client.get("/dist/nope.0123456789.js").headers.get("cache-control") is None
    assert client.get("/dist/pyodide.abcdef0123/pyodide.asm.wasm").headers["content-type"] == (
        "application/wasm"
    )
