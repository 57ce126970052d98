"""The meeting pack as PDF: headless Chromium prints the HTML pack (dashboard/pdf.py).

The tests that need Chromium skip where /usr/bin/chromium is missing, except under CI (``CI`` set),
where they fail: CI installs it (.ci/run) and must exercise the PDF. The failure, timeout and
clean-up tests use stand-in "browsers" (shell scripts) and run everywhere.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import stat
import tempfile
import time
import zlib
from pathlib import Path

import pytest

from carepulse import warehouse
from carepulse.access import list_audit
from carepulse.settings import Settings, get_settings

CHROMIUM = Path("/usr/bin/chromium")
SECRET = "Jane Q. Doe MRN-4242-SECRET"  # stands for patient data: must never reach a message


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.is_file():
        if os.environ.get("CI"):
            pytest.fail("/usr/bin/chromium is missing under CI: the meeting-pack PDF must be tested there")
        pytest.skip("/usr/bin/chromium is not installed")
    return CHROMIUM


@pytest.fixture
def wh(loaded_wh):
    return loaded_wh


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """Temporary files go here, so a test can see that none are left behind."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", pdf))


def drawing_ops(pdf: bytes) -> dict[str, int]:
    """How many line segments (``l``) and curves (``c``: the point markers) the pages draw."""
    content = b""
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, flags=re.S):
        try:
            content += zlib.decompressobj().decompress(stream) + b"\n"
        except zlib.error:  # fonts and other binary streams that are not Flate content
            continue
    return {op: len(re.findall(rb"(?m)\s" + op.encode() + rb"$", content)) for op in ("l", "c")}


def fake_browser(folder: Path, body: str) -> Path:
    """A stand-in browser: a shell script; ``$out`` is its --print-to-pdf path."""
    script = folder / "fake-browser"
    script.write_text(
        '#!/bin/sh\nout=\'\'\nfor a in "$@"; do case "$a" in --print-to-pdf=*) '
        'out="${a#--print-to-pdf=}";; esac; done\n' + body + "\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie waiting for its parent counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def test_pdf_of_a_real_pack_has_pages_and_drawn_charts(wh, chromium, private_tmp, monkeypatch):
    from carepulse.access import accounts
    from carepulse.dashboard import meeting_pack, pdf
    from carepulse.dashboard.filters import Filters
    from tests.dashboard_support import create_account

    monkeypatch.setenv("CAREPULSE_PDF_BROWSER", str(chromium))
    get_settings.cache_clear()
    user = accounts.get_user(wh, create_account(wh, "qi", username="test_qi"))
    view = Filters(start=dt.date(2025, 7, 1), end=dt.date(2026, 6, 30))
    run = warehouse.latest_load_run_id(wh)

    started = time.monotonic()
    document = meeting_pack.pdf_downloader(run, view, user)()
    took = time.monotonic() - started
    assert document.startswith(b"%PDF-") and document.rstrip().endswith(b"%%EOF")
    assert page_count(document) >= 2
    assert took < 30, f"the PDF took {took:.1f} s"
    exports = list_audit(wh, action="export")
    assert exports.select("username", "target").rows() == [("test_qi", "meeting_pack")]
    assert '"pdf"' in exports["detail"][0]

    # The same pack without its charts: what the charts add is the line segments and point markers
    # Plotly drew (an undrawn chart would leave only an empty box).
    pack = meeting_pack.collect(run, view, user)
    assert len(pack.figures) >= 5
    bare = pdf.html_to_pdf(meeting_pack.render_html(dataclasses.replace(pack, figures=[])), browser=chromium)
    drawn, plain = drawing_ops(document), drawing_ops(bare)
    assert drawn["l"] >= 1000 and drawn["c"] >= 400, drawn
    assert plain["l"] < 50 and plain["c"] < 50, plain
    assert len(document) > 1.5 * len(bare)
    assert page_count(document) > page_count(bare)
    assert list(private_tmp.iterdir()) == [], "temporary files left behind"


def test_a_browser_path_that_does_not_exist_is_a_clear_error(private_tmp, tmp_path):
    from carepulse.dashboard.pdf import PdfError, html_to_pdf

    with pytest.raises(PdfError) as caught:
        html_to_pdf(f"<p>{SECRET}</p>", browser=tmp_path / "no-such-browser")
    assert "Cannot start the PDF browser" in str(caught.value) and "pdf_browser" in str(caught.value)
    assert SECRET not in str(caught.value) and "<p>" not in str(caught.value)
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('echo "$(cat "$(ls *.html)")" >&2; exit 3', "wrote no PDF (exit code 3)"),  # echoes the page, fails
        (': > "$out"', "wrote no PDF (exit code 0)"),  # an empty file
        ("echo '<html>not a pdf' > \"$out\"", "not a PDF"),
        ("printf '%%PDF-1.4 truncated' > \"$out\"; exit 1", "failed (exit code 1)"),
    ],
)
def test_a_failing_browser_raises_without_the_html(private_tmp, tmp_path, body, expected):
    from carepulse.dashboard.pdf import PdfError, html_to_pdf
    from carepulse.errors import CarePulseError

    browser = fake_browser(tmp_path, body)
    with pytest.raises(PdfError) as caught:
        html_to_pdf(f"<!DOCTYPE html><p>{SECRET}</p>", browser=browser, timeout_s=20)
    message = str(caught.value)
    assert isinstance(caught.value, CarePulseError)
    assert expected in message and str(browser) in message
    assert SECRET not in message and "<p>" not in message and "MRN" not in message
    assert list(private_tmp.iterdir()) == [], "temporary files left behind"


def test_a_browser_that_hangs_is_killed_with_its_children(private_tmp, tmp_path):
    from carepulse.dashboard.pdf import PdfError, html_to_pdf

    pids = tmp_path / "pids"
    browser = fake_browser(tmp_path, f"echo $$ > {pids}; sleep 60 & echo $! >> {pids}; wait")
    started = time.monotonic()
    with pytest.raises(PdfError, match="did not finish within 1 s"):
        html_to_pdf(f"<p>{SECRET}</p>", browser=browser, timeout_s=1)
    assert time.monotonic() - started < 10
    shell, child = (int(p) for p in pids.read_text().split())
    deadline = time.monotonic() + 5
    while (alive(shell) or alive(child)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(shell) and not alive(child), "the browser or a process it started still runs"
    assert list(private_tmp.iterdir()) == [], "temporary files left behind"


def test_available_browser_follows_the_setting(tmp_path):
    from carepulse.dashboard.pdf import available_browser

    assert available_browser(Settings(pdf_browser=None)) is None
    assert available_browser(Settings(pdf_browser="")) is None
    assert available_browser(Settings(pdf_browser=tmp_path / "missing")) is None
    not_executable = tmp_path / "chrome.txt"
    not_executable.write_text("")
    assert available_browser(Settings(pdf_browser=not_executable)) is None
    browser = fake_browser(tmp_path, "exit 0")
    assert available_browser(Settings(pdf_browser=browser)) == browser
    assert Settings().pdf_browser == (CHROMIUM if CHROMIUM.is_file() else None)


def test_qi_page_offers_the_pdf_only_with_a_browser(wh, tmp_path, monkeypatch):
    from tests.dashboard_support import problems, signed_in_app

    def pack_buttons(at) -> dict[str, str | None]:
        return {b.label: b.key for b in at.get("download_button") if "meeting pack" in b.label}

    monkeypatch.setenv("CAREPULSE_PDF_BROWSER", str(fake_browser(tmp_path, "exit 0")))
    get_settings.cache_clear()
    at = signed_in_app(wh, "qi")
    at.switch_page("views/qi.py").run()
    assert problems(at) == []
    assert set(pack_buttons(at)) == {"Download meeting pack (HTML)", "Download meeting pack (PDF)"}

    monkeypatch.setenv("CAREPULSE_PDF_BROWSER", "")
    get_settings.cache_clear()
    at.run()
    assert problems(at) == []
    assert set(pack_buttons(at)) == {"Download meeting pack (HTML)"}
    assert any("No PDF download here" in c.value and "pdf_browser" in c.value for c in at.caption)
