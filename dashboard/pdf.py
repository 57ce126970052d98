"""HTML to PDF with headless Chromium (the meeting pack's PDF).

One job: :func:`html_to_pdf` writes the HTML to a private temporary directory and runs the browser's
``--print-to-pdf`` on its ``file://`` URL, with a throw-away profile in the same directory. The
directory is removed whatever happens; a browser that runs past the timeout is killed with its whole
process group. Failures raise :class:`PdfError`, whose message names the browser and what went wrong,
never the HTML or anything in it.

Charts: Plotly draws while the page loads, but ``--virtual-time-budget`` (timers run, in virtual
time, before printing) and ``--run-all-compositor-stages-before-draw`` (animation frames run too)
make sure anything a page schedules for later is drawn as well; together they cost no wall time on
a page that is idle. The window width is the width the charts are drawn at: 700 CSS px fits the
printable width of both A4 and US Letter at the pack's 12 mm margins (186 mm = 703 px on A4), so
Chromium never has to shrink a page to fit a chart drawn wider.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from carepulse.errors import CarePulseError

#: Flags known to work with Debian's Chromium in a container (no sandbox, GPU, network or sync).
CHROMIUM_FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
#: Virtual milliseconds the page may spend on timers after loading (instant when the page is idle).
VIRTUAL_TIME_BUDGET_MS = 10_000
#: Window the page is laid out in before printing (CSS px): the width Plotly draws the charts at.
WINDOW_SIZE = (700, 1000)


class PdfError(CarePulseError):
    """The browser could not make the PDF (not found, failed, timed out, or wrote no PDF)."""


def available_browser(settings) -> Path | None:
    """The configured PDF browser (setting ``pdf_browser``) when it is an executable file, else None."""
    path = settings.pdf_browser
    if path is None:
        return None
    path = Path(path)
    return path if path.is_file() and os.access(path, os.X_OK) else None


def _kill_group(process: subprocess.Popen) -> None:
    """Kill the browser and every process it started (they share its process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
        pass


def _remove(folder: Path) -> None:
    """Delete ``folder``, retrying briefly: a browser helper that is still exiting may write to its
    profile for a moment after the browser has gone."""
    for _ in range(10):
        try:
            shutil.rmtree(folder)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)
    shutil.rmtree(folder, ignore_errors=True)


def html_to_pdf(html: str, *, browser: Path, timeout_s: float = 60) -> bytes:
    """The PDF Chromium prints of ``html`` (bytes starting with ``%PDF-``); raises :class:`PdfError`."""
    work = Path(tempfile.mkdtemp(prefix="carepulse-pdf-"))  # mode 0700: private to this process's user
    try:
        return _print(html, Path(browser), work, timeout_s)
    finally:
        _remove(work)


def _print(html: str, browser: Path, work: Path, timeout_s: float) -> bytes:
    page, output, log = work / "pack.html", work / "pack.pdf", work / "browser.log"
    page.write_text(html, encoding="utf-8")
    args = [
        str(browser),
        *CHROMIUM_FLAGS,
        f"--user-data-dir={work / 'profile'}",
        "--no-pdf-header-footer",
        f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}",
        "--run-all-compositor-stages-before-draw",
        f"--window-size={WINDOW_SIZE[0]},{WINDOW_SIZE[1]}",
        f"--print-to-pdf={output}",
        page.as_uri(),
    ]
    # The browser's own output goes to a file, never to our logs or messages: a page's console
    # messages could quote its content.
    with log.open("wb") as sink:
        try:
            process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink, cwd=work, start_new_session=True
            )
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise PdfError(
                f"Cannot start the PDF browser {browser}: {reason}. Check the pdf_browser setting."
            ) from None
        try:
            code = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise PdfError(
                f"The PDF browser {browser} did not finish within {timeout_s:g} s and was "
                "stopped. Try again, or download the HTML pack and print it to PDF."
            ) from None
        finally:
            _kill_group(process)  # on a timeout the browser; otherwise helpers that outlived it
    pdf = output.read_bytes() if output.is_file() else b""
    if code != 0 or not pdf.startswith(b"%PDF-"):
        what = (
            "failed"
            if pdf.startswith(b"%PDF-")
            else "wrote no PDF"
            if not pdf
            else "wrote a file that is not a PDF"
        )
        raise PdfError(
            f"The PDF browser {browser} {what} (exit code {code}). Check the pdf_browser "
            "setting, or download the HTML pack and print it to PDF."
        )
    return pdf
