"""The React + Redux example app (examples/react-redux) in the browser: its vocabulary, and its
build, served by a real ``cleanexit serve`` with ``CLEANEXIT_WEB_DIR``."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.support.server import DEMO_PASSWORD, free_port
from tests.web.driver import REPO, WEB, Page

EXAMPLE = REPO / "examples" / "react-redux"
READY = 'html[data-ready="true"]'


def build_example(node: str, out: Path, *, api: str = "", typecheck: bool = False) -> Path:
    """`npm run build:lib` (the package the example links), then the example's Vite build;
    ``api``: the API's origin when it is not the one serving the app; ``typecheck``: run the
    example's own `tsc --noEmit` too (Vite does not type-check)."""
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "CLEANEXIT_EXAMPLE_OUT": str(out),
        "VITE_CLEANEXIT_API": api,
    }
    tsc = WEB / "node_modules" / "typescript" / "bin" / "tsc"
    vite = EXAMPLE / "node_modules" / "vite" / "bin" / "vite.js"
    commands = [
        ([node, str(tsc), "-p", "tsconfig.build.json"], WEB),
        ([node, str(vite), "build", "--logLevel", "error"], EXAMPLE),
    ]
    if typecheck:
        example_tsc = EXAMPLE / "node_modules" / "typescript" / "bin" / "tsc"
        commands.append(([node, str(example_tsc), "--noEmit", "-p", "."], EXAMPLE))
    for command, cwd in commands:
        result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert (out / "index.html").is_file()
    return out


@contextlib.contextmanager
def static_server(directory: Path) -> Iterator[int]:
    """A plain static file server (no CSP of ours): the app's origin in the cross-origin test."""
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--directory", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "static server did not start"
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


class ExamplePage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def open(self, path: str = "/") -> ExamplePage:
        self.page.call("goto", url=self.base_url + path)
        self.page.wait_for(selector=READY, state="attached")
        return self

    def reload(self) -> None:
        self.page.call("reload")
        self.page.wait_for(selector=READY, state="attached")

    @property
    def url(self) -> str:
        return self.page.url

    def sign_in(self, username: str = "alice", password: str = DEMO_PASSWORD) -> None:
        self.page.fill("username", username)
        self.page.fill("password", password)
        self.page.click("signin")
        self.wait_signed_in(username)

    def wait_signed_in(self, username: str = "alice") -> None:
        self.page.wait_for_url(self.base_url + "/dashboard")
        # The dashboard has loaded /me through the app's axios instance: the bearer works.
        self.page.wait_until(
            f"document.querySelector('[data-testid=profile-user]')?.textContent === '{username}'"
        )

    def wait_signed_out(self) -> None:
        self.page.wait_for("signin-form")
        self.page.wait_for_url(self.base_url + "/")

    def is_signed_out(self) -> bool:
        return self.page.count("signin-form") == 1 and self.page.count("dashboard") == 0

    def log_out(self) -> None:
        self.page.click("logout")
        self.wait_signed_out()

    def add_note(self, text: str) -> None:
        self.page.fill("note", text)
        self.page.click("add-note")
        self.page.wait_until(f"(localStorage.getItem('persist:example') || '').includes({text!r})")

    def steal_token(self) -> str:
        """The bearer of the app's last API call, as a network-level thief would copy it."""
        bearers = self.page.call("log")["bearers"]
        assert bearers, "no bearer call seen"
        token = str(bearers[-1]).removeprefix("Bearer ")
        assert token.count(".") == 2, "not a JWT"
        return token

    def notice(self) -> dict[str, str | None]:
        self.page.wait_for("notice")
        return {
            "outcome": self.page.attr("notice", "data-outcome"),
            "reason": self.page.attr("notice", "data-reason"),
            "text": self.page.text("notice"),
        }

    def storage(self) -> dict[str, Any]:
        return self.page.storage()
