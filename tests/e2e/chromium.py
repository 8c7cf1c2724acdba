"""Debian's headless Chromium driven over the Chrome DevTools protocol (a websocket, with aiohttp).

::

    Chromium(path) ──start──► chromium --headless --remote-debugging-port=0 --user-data-dir=<tmp>
                              (every background download, update and sync switched off; loopback only)
        <user-data-dir>/DevToolsActivePort ──► ws://127.0.0.1:<port>/devtools/browser/<id>
    render(url, headers) ──► Target.createTarget + attach (one session per page)
                             Network.setExtraHTTPHeaders (the API key: the page needs one; no proxy)
                             Page.navigate ── loadEventFired ──► Runtime.evaluate(outerHTML),
                             Page.captureScreenshot (full page), Page.printToPDF ──► RenderedPage

The CLI's ``--dump-dom`` cannot send a header, the protocol can; nothing is downloaded (no puppeteer, no
driver): a missing browser is a :class:`ChromiumError` with the reason, for the test to fail on.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

DEFAULT_PATH = "/usr/bin/chromium"
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-extensions", "--disable-default-apps", "--disable-dev-shm-usage",
    "--metrics-recording-only", "--mute-audio", "--hide-scrollbars", "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)  # fmt: skip


class ChromiumError(RuntimeError):
    """The browser is missing, did not start, or a protocol command failed."""


@dataclass(frozen=True)
class RenderedPage:
    """What the browser made of a page: the main response's status, the DOM after scripts ran, every URL
    the page requested, a full-page PNG screenshot and the page printed to PDF (A4)."""

    status: int
    dom: str
    requested: tuple[str, ...]
    png: bytes
    pdf: bytes
    size: tuple[int, int]
    """CSS pixels: layout width and full height of the document."""


def find_chromium(path: str | None = None) -> str:
    """The browser's path, or :class:`ChromiumError` saying how to install it."""
    found = path or shutil.which("chromium") or (DEFAULT_PATH if Path(DEFAULT_PATH).exists() else None)
    if not found or not Path(found).exists():
        raise ChromiumError(
            "Chromium is not installed (looked for `chromium` on PATH and /usr/bin/chromium): "
            "`make system-deps` as root installs Debian's package (apt-get install chromium)"
        )
    return found


@dataclass
class _Session:
    ws: aiohttp.ClientWebSocketResponse
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    pending: dict[int, asyncio.Future[Any]] = field(default_factory=dict)
    events: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)


class Chromium:
    """``async with Chromium() as browser: page = await browser.render(url, headers)``."""

    def __init__(self, path: str | None = None, timeout_s: float = 30.0) -> None:
        self.path = find_chromium(path)
        self.timeout_s = timeout_s
        self._profile: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._session: _Session | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Chromium:
        self._profile = tempfile.TemporaryDirectory(prefix="carpass-chromium-")
        profile = Path(self._profile.name)
        log = open(profile / "chromium.log", "wb")  # noqa: SIM115 (the process holds it until it ends)
        self._process = subprocess.Popen(
            [self.path, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        log.close()
        try:
            url = await self._browser_url(profile)
            self._http = aiohttp.ClientSession()
            ws = await self._http.ws_connect(url, max_msg_size=256 * 1024 * 1024)
            self._session = _Session(ws)
            self._reader = asyncio.create_task(self._read(self._session))
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._send("Browser.close"), 5)
            await self._session.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
        if self._http is not None:
            await self._http.close()
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        if self._profile is not None:
            # Chromium's helper processes can still write into the profile for a moment after the browser
            # has exited ("Directory not empty: 'Default'" on a busy machine): try again, then let it be.
            for _ in range(20):
                try:
                    self._profile.cleanup()
                    break
                except OSError:
                    await asyncio.sleep(0.25)
            else:
                shutil.rmtree(self._profile.name, ignore_errors=True)

    async def _browser_url(self, profile: Path) -> str:
        """The browser's websocket URL, from the port file Chromium writes once it listens."""
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout_s
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                log = (profile / "chromium.log").read_text(errors="replace")[-2000:]
                raise ChromiumError(f"{self.path} exited with {self._process.returncode}:\n{log}")
            lines = port_file.read_text().split() if port_file.exists() else []
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            await asyncio.sleep(0.1)
        raise ChromiumError(f"{self.path} did not open its DevTools port within {self.timeout_s} s")

    @staticmethod
    async def _read(session: _Session) -> None:
        async for message in session.ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            future = session.pending.pop(data["id"], None) if "id" in data else None
            if future is not None and not future.done():
                if "error" in data:
                    future.set_exception(ChromiumError(f"DevTools: {data['error']}"))
                else:
                    future.set_result(data.get("result", {}))
            elif "method" in data:
                session.events.put_nowait(data)
        for future in session.pending.values():
            if not future.done():
                future.set_exception(ChromiumError("the DevTools connection closed"))

    async def _send(
        self, method: str, params: dict[str, Any] | None = None, target: str | None = None
    ) -> Any:
        session = self._session
        assert session is not None, "use Chromium as an async context manager"
        ident = next(session.ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if target is not None:
            message["sessionId"] = target
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        session.pending[ident] = future
        await session.ws.send_str(json.dumps(message))
        return await asyncio.wait_for(future, self.timeout_s)

    async def _wait_event(self, method: str, target: str, seen: list[dict[str, Any]]) -> dict[str, Any]:
        """The next event ``method`` of ``target``; the target's other events are appended to ``seen``."""
        assert self._session is not None
        deadline = time.monotonic() + self.timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChromiumError(f"no {method} within {self.timeout_s} s")
            event = await asyncio.wait_for(self._session.events.get(), left)
            if event.get("sessionId") != target:
                continue
            if event["method"] == method:
                return event
            seen.append(event)

    async def render(
        self, url: str, headers: dict[str, str] | None = None, width: int = 900, media: str = "screen"
    ) -> RenderedPage:
        """Load ``url`` in a new tab of ``width`` CSS pixels, sending ``headers`` with every request;
        ``media="print"``: the screenshot shows the print style sheet."""
        created = await self._send("Target.createTarget", {"url": "about:blank"})
        target_id = created["targetId"]
        attached = await self._send("Target.attachToTarget", {"targetId": target_id, "flatten": True})
        tab = attached["sessionId"]
        try:
            for method in ("Page.enable", "Network.enable", "Runtime.enable"):
                await self._send(method, target=tab)
            await self._send("Network.setExtraHTTPHeaders", {"headers": headers or {}}, tab)
            screen = {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": False}
            await self._send("Emulation.setDeviceMetricsOverride", screen, tab)
            await self._send("Emulation.setEmulatedMedia", {"media": media}, tab)
            navigated = await self._send("Page.navigate", {"url": url}, tab)
            if navigated.get("errorText"):
                raise ChromiumError(f"navigation to {url} failed: {navigated['errorText']}")
            seen: list[dict[str, Any]] = []
            await self._wait_event("Page.loadEventFired", tab, seen)
            return await self._capture(tab, seen)
        finally:
            with contextlib.suppress(ChromiumError, asyncio.TimeoutError):
                await self._send("Target.closeTarget", {"targetId": target_id})

    async def _capture(self, tab: str, seen: list[dict[str, Any]]) -> RenderedPage:
        requested = [e["params"]["request"]["url"] for e in seen
                     if e["method"] == "Network.requestWillBeSent"]  # fmt: skip
        statuses = [
            e["params"]["response"]["status"] for e in seen
            if e["method"] == "Network.responseReceived" and e["params"].get("type") == "Document"
        ]  # fmt: skip
        script = {"expression": "document.documentElement.outerHTML", "returnByValue": True}
        dom = await self._send("Runtime.evaluate", script, tab)
        metrics = await self._send("Page.getLayoutMetrics", target=tab)
        content = metrics.get("cssContentSize") or metrics["contentSize"]
        width, height = int(content["width"]), int(content["height"])
        clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
        png = {"format": "png", "captureBeyondViewport": True, "clip": clip}
        shot = await self._send("Page.captureScreenshot", png, tab)
        a4 = {"paperWidth": 8.27, "paperHeight": 11.69, "printBackground": True}
        pdf = await self._send("Page.printToPDF", a4, tab)
        return RenderedPage(
            status=statuses[0] if statuses else 0, dom=dom["result"]["value"], requested=tuple(requested),
            png=base64.b64decode(shot["data"]), pdf=base64.b64decode(pdf["data"]), size=(width, height),
        )  # fmt: skip
