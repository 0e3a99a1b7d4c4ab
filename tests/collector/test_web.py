"""The demo pages as served: each loads the tracker the spec's way and has the ids it lists
(its own, or the nav bar and storage card that demo.js fills in)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from collector.settings import REPO_ROOT

PAGES = ["index.html", "identity.html", "consent.html"]
STUB = (
    "window.tracker = window.tracker || function () "
    "{ (tracker.q = tracker.q || []).push(arguments); };"
)


@pytest.fixture
def real_site(make_client: Any) -> Any:
    return make_client(web_dir=REPO_ROOT / "web")


def _listed_ids(html: str) -> set[str]:
    header = html.split("-->", 1)[0]
    return set(re.findall(r"#([a-z][\w-]*)", header))


@pytest.mark.parametrize("page", PAGES)
def test_page_loads_tracker_and_has_listed_ids(real_site: Any, page: str) -> None:
    reply = real_site.get("/" + page)
    assert reply.status == 200
    html = reply.text
    assert STUB in html
    assert '<script src="/demo.js"></script>' in html
    assert "Demo.loadTracker()" in html
    assert "<nav data-demo-nav></nav>" in html
    assert "data-demo-storage" in html
    shared = (REPO_ROOT / "web" / "demo.js").read_text()
    ids = set(re.findall(r'\bid="([^"]+)"', html + shared))
    listed = _listed_ids(html)
    assert listed, "the page lists its ids in the header comment"
    assert listed - ids == set(), "ids listed in the header but missing from the page"


def test_root_is_the_user_token_page(real_site: Any) -> None:
    assert real_site.get("/").body == (REPO_ROOT / "web" / "index.html").read_bytes()


def test_demo_loader_inserts_the_spec_tag() -> None:
    js = (Path(REPO_ROOT) / "web" / "demo.js").read_text()
    assert "'/dist/tracker.js'" in js
    assert "data-runtime" in js
