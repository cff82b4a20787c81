"""Helpers to serve the app with `streamlit run` and drive Debian's Chromium with Playwright (no browser download)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from marketdash.domain.config import is_loopback
from tests.conftest import ROOT

CHROMIUM = next((p for p in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium") if p and Path(p).exists()), None)
CHROMIUM = CHROMIUM or shutil.which("chromium") or shutil.which("chromium-browser")
# Every page as a reader opens it: name -> path and query (the asset page needs an asset).
PAGES = {"overview": "", "compare": "compare", "correlations": "correlations", "statistics": "statistics",
         "portfolio": "portfolio", "data": "data", "asset": "asset?id=samsung"}  # fmt: skip
CHROMIUM_ARGS = ["--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"]


def outside_address() -> str | None:
    """This machine's own address on its network (what another device would type), or None without one. A UDP
    socket's connect only picks the route and source address: no packet is sent."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.123", 9))  # TEST-NET-1: any routable address would do
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if is_loopback(address) else address


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_app(
    env: dict[str, str], script: Path = ROOT / "app.py", log: Path | None = None, **options: str
) -> Iterator[str]:
    """`streamlit run` on a free local port; yields the base URL once /_stcore/health answers. `options`: more of
    Streamlit's settings (`secrets_files=...` is `--secrets.files ...`; `address` the interface, 127.0.0.1)."""
    with streamlit_server(env, script, log, **options) as (url, _):
        yield url


@contextmanager
def streamlit_server(
    env: dict[str, str], script: Path = ROOT / "app.py", log: Path | None = None, address: str = "127.0.0.1",
    **options: str,
) -> Iterator[tuple[str, subprocess.Popen]]:  # fmt: skip
    """As streamlit_app, with the server's process too (the load bench reads its CPU time and memory)."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
        "--server.address", address, "--server.port", str(port), "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none", "--client.toolbarMode", "viewer",
        *(part for name, value in options.items() for part in (f"--{name.replace('_', '.', 1)}", value)),
    ]  # fmt: skip
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, env=env, cwd=script.parent, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://{'127.0.0.1' if address == '0.0.0.0' else address}:{port}"
    try:
        wait_healthy(url, proc)
        yield url, proc
    finally:
        proc.kill()
        proc.wait(timeout=10)
        if log:
            out.close()


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Until the Streamlit server at `url` answers its health check (RuntimeError if `proc` ends or time runs out)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start (exit {proc.poll()})") from None
            time.sleep(0.1)


def wait_rendered(
    page, selector: str | None = "[data-testid=stPlotlyChart] .main-svg", timeout: float = 90_000
) -> None:
    """Connected, script finished, no skeletons, then the element asserted on."""
    page.wait_for_selector("[data-testid=stApp][data-test-connection-state=CONNECTED]", timeout=timeout)
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=timeout)
    page.wait_for_function("document.querySelectorAll('[data-testid=stSkeleton]').length === 0", timeout=timeout)
    if selector:
        page.wait_for_selector(selector, timeout=timeout)


def full_screenshot(page, path: Path) -> None:
    """The app scrolls inside stMain: grow the viewport to its height first."""
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": min(max(height, 600), 6000)})
    page.wait_for_timeout(500)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
