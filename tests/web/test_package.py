"""The npm package as a new user gets it: `npm pack`, installed into a fresh app, type-checked.

The scratch app (tests/web/scratch_app/) is the quick start of docs/web.md. Its dependencies are
pinned to the versions clients/web itself locked, and npm installs them --prefer-offline: the
tarballs are already in npm's cache from clients/web's `npm ci`, so this takes seconds and needs
no network on a machine that ran the other web tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.web.driver import REPO, WEB

pytestmark = pytest.mark.browser  # needs Node (see tests/web/conftest.py)

SCRATCH = REPO / "tests" / "web" / "scratch_app"
PEERS = ["@reduxjs/toolkit", "redux-persist", "react", "react-dom", "react-redux", "axios"]
DEV = ["typescript", "@types/react", "@types/react-dom"]


def locked(name: str) -> str:
    return str(json.loads((WEB / "node_modules" / name / "package.json").read_text())["version"])


def npm(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "npm_config_update_notifier": "false"}
    result = subprocess.run(
        ["npm", *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result


@pytest.fixture(scope="module")
def tarball(node: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pack")
    packed = json.loads(npm("pack", "--json", "--pack-destination", str(out), cwd=WEB).stdout)
    return out / packed[0]["filename"]


def test_tarball_holds_the_build_and_nothing_else(tarball: Path) -> None:
    with tarfile.open(tarball) as archive:
        names = {name.removeprefix("package/") for name in archive.getnames()}
        manifest = json.load(archive.extractfile("package/package.json"))  # type: ignore[arg-type]
    assert {"package.json", "README.md", "CHANGELOG.md"} <= names
    assert {"dist/lib/index.js", "dist/lib/index.d.ts", "dist/react/index.js"} <= names
    assert not [n for n in names if n.startswith(("src/", "test/", "e2e/", "node_modules/"))]
    assert not [n for n in names if n.endswith(".ts") and not n.endswith(".d.ts")]
    assert manifest["name"] == "@cleanexit/web" and "private" not in manifest
    assert set(manifest["exports"]) == {".", "./react", "./package.json"}
    assert "dependencies" not in manifest  # Redux, redux-persist, React: the app's, as peers
    assert set(manifest["peerDependencies"]) == {
        "@reduxjs/toolkit", "redux-persist", "react", "react-redux"
    }  # fmt: skip


def test_installs_into_a_fresh_app_and_type_checks(
    tarball: Path, node: str, tmp_path: Path
) -> None:
    app = tmp_path / "app"
    shutil.copytree(SCRATCH, app)
    shutil.copy(tarball, app / tarball.name)
    manifest = {
        "name": "scratch-app",
        "private": True,
        "type": "module",
        "dependencies": {
            "@cleanexit/web": f"file:./{tarball.name}",
            **{name: locked(name) for name in PEERS},
        },
        "devDependencies": {name: locked(name) for name in DEV},
    }
    (app / "package.json").write_text(json.dumps(manifest, indent=2))
    npm(
        "install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts",
        "--loglevel=error", cwd=app,
    )  # fmt: skip
    installed = app / "node_modules" / "@cleanexit" / "web"
    assert not installed.is_symlink() and (installed / "dist" / "lib" / "index.d.ts").is_file()
    tsc = app / "node_modules" / "typescript" / "bin" / "tsc"
    for config in ("tsconfig.json", "tsconfig.node16.json"):
        result = subprocess.run(
            [node, str(tsc), "-p", config], cwd=app, capture_output=True, text=True, timeout=240
        )
        assert result.returncode == 0, f"{config}:\n{result.stdout[-6000:]}{result.stderr[-2000:]}"
