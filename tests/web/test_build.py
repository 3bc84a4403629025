"""The demo page the Python package ships is the build of the sources in clients/web."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from tests.web.driver import REPO, WEB

STATIC = REPO / "src" / "cleanexit" / "web" / "static"
INPUTS = ["index.html", "package-lock.json", "vite.config.ts", "src"]


def sources_digest() -> str:
    """The digest clients/web/scripts/stamp.mjs records at build time (same recipe)."""
    files: list[Path] = []
    for name in INPUTS:
        path = WEB / name
        files.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    digest = hashlib.sha256()
    for rel in sorted(p.relative_to(WEB).as_posix() for p in files):
        digest.update(rel.encode() + b"\0")
        digest.update((WEB / rel).read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def test_committed_build_matches_the_sources() -> None:
    recorded = (STATIC / "SOURCES.sha256").read_text().strip()
    assert recorded == sources_digest(), "src/cleanexit/web/static is stale: run `make web`"


def test_index_references_only_same_origin_hashed_assets() -> None:
    html = (STATIC / "index.html").read_text()
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assets = [r for r in refs if r.startswith("/assets/")]
    assert len(assets) >= 2  # the script and the stylesheet
    for ref in assets:
        assert re.fullmatch(r"/assets/[\w-]+-[\w-]{8}\.(js|css)", ref), ref
        assert (STATIC / ref.lstrip("/")).is_file(), ref
    assert not [r for r in refs if "//" in r], "nothing may be fetched from another origin"
    assert "<script>" not in html, "no inline script (CSP script-src 'self')"
