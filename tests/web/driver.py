"""Python side of the browser driver: talks JSON lines to ``clients/web/e2e/driver.mjs``.

One Node process (one Chromium) serves the whole test session; each test opens its own browser
contexts (separate cookie jars and storage, i.e. separate "browsers" as far as the server can
tell) and closes them at the end. Scenarios are written here, in Python, so a test can stop and
restart the real server or replay a stolen token with httpx between two browser steps.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import threading
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "clients" / "web"
DRIVER = WEB / "e2e" / "driver.mjs"
CALL_TIMEOUT = 30.0


class DriverError(RuntimeError):
    pass


class BrowserDriver:
    def __init__(self, node: str, chromium: str, log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self._process = subprocess.Popen(
            [node, str(DRIVER)],
            cwd=WEB,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
            env={**os.environ, "CLEANEXIT_CHROMIUM": chromium},
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._next_id = 1
        self.version = self._wait(0, timeout=60.0)["browser"]

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _wait(self, request_id: int, timeout: float = CALL_TIMEOUT) -> Any:
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise DriverError(
                    f"browser driver did not answer in {timeout}s\n{self.stderr()}"
                ) from None
            if line is None:
                raise DriverError(f"browser driver exited\n{self.stderr()}")
            message = json.loads(line)
            if message.get("id") != request_id:
                continue
            if "error" in message:
                raise DriverError(message["error"])
            return message["result"]

    def call(self, action: str, **args: Any) -> Any:
        request_id, self._next_id = self._next_id, self._next_id + 1
        assert self._process.stdin is not None
        self._process.stdin.write(
            json.dumps({"id": request_id, "action": action, "args": args}) + "\n"
        )
        self._process.stdin.flush()
        return self._wait(request_id)

    def new_context(self, *, init_script: str | None = None, clock: bool = False) -> Context:
        return Context(self, self.call("newContext", initScript=init_script, clock=clock))

    def stderr(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def close(self) -> None:
        if self._process.poll() is None:
            with contextlib.suppress(DriverError):
                self.call("quit")
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()


class Context:
    """One browser profile: its own cookie jar, localStorage and IndexedDB."""

    def __init__(self, driver: BrowserDriver, context_id: str) -> None:
        self.driver = driver
        self.id = context_id

    def new_page(self) -> Page:
        return Page(self.driver, self.driver.call("newPage", context=self.id))

    def close(self) -> None:
        self.driver.call("closeContext", context=self.id)


class Page:
    """Generic page operations; the demo page's vocabulary lives in ``demo.py``."""

    def __init__(self, driver: BrowserDriver, page_id: str) -> None:
        self.driver = driver
        self.id = page_id

    def call(self, action: str, **args: Any) -> Any:
        try:
            return self.driver.call(action, page=self.id, **args)
        except DriverError as exc:
            log = self.driver.call("log", page=self.id)
            raise DriverError(
                f"{exc}\nrequests: {log['requests']}\nconsole: {log['console']}"
            ) from None

    @property
    def url(self) -> str:
        return str(self.call("url"))

    def click(self, testid: str) -> None:
        self.call("click", testid=testid)

    def fill(self, testid: str, value: str) -> None:
        self.call("fill", testid=testid, value=value)

    def wait_for(
        self, testid: str | None = None, *, selector: str | None = None, state: str = "visible"
    ) -> None:
        self.call("waitFor", testid=testid, selector=selector, state=state)

    def wait_for_url(self, url: str) -> str:
        return str(self.call("waitForUrl", url=url))

    def wait_until(self, expression: str, timeout: int | None = None) -> Any:
        return self.call("waitForFunction", expression=expression, timeout=timeout)

    def text(self, testid: str) -> str:
        return str(self.call("text", testid=testid))

    def attr(self, testid: str, name: str) -> str | None:
        value = self.call("attr", testid=testid, name=name)
        return None if value is None else str(value)

    def count(self, testid: str) -> int:
        return int(self.call("count", testid=testid))

    def evaluate(self, expression: str) -> Any:
        return self.call("evaluate", expression=expression)

    def storage(self) -> dict[str, Any]:
        return dict(self.call("storage"))

    def requests(self) -> list[str]:
        return list(self.call("log")["requests"])

    def clear_log(self) -> None:
        self.call("clearLog")

    def pause_clock(self) -> None:
        """Stop the page's timers (a sleeping laptop); needs a context made with ``clock=True``."""
        self.call("pauseClock")

    def resume_clock(self) -> None:
        self.call("resumeClock")

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.call("screenshot", path=str(path))
        return path
