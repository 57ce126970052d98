"""Load bench (issue 16 item 9): signed-in browser sessions clicking through pages while coordinators
record outreach outcomes against the same warehouse.

    .venv/bin/python bench/load.py --sessions 6 --rounds 2 --writers 2
    .venv/bin/python bench/load.py --data-dir DIR     # reuse DIR/warehouse.sqlite (built by a run)

1. generates about ``--appointments`` appointments, ingests them into a fresh SQLite warehouse, trains a
   small no-show model and scores the coming appointments (skipped if ``--data-dir`` has a warehouse);
2. creates one account per session (manager, QI lead, coordinator in turn) with carepulse.access.accounts;
3. starts ``carepulse serve`` on a free 127.0.0.1 port and headless Chromium; each session is a browser
   context that signs in, then opens each of its role's pages by address ``--rounds`` times; a page's
   time runs from the request to its main content (a chart, table or metric) being visible;
4. meanwhile ``--writers`` processes each record ``--writes`` outcomes with
   carepulse.records.outreach.record_outcome, cycling over the same few appointments (they collide);
5. prints per-page and overall p50/p95, errors (exceptions on a page, timeouts, HTTP errors; goal 0),
   writes attempted / stored / lost (goal 0), the load average and the server's peak RSS.

The issue's target is 50 sessions on 1M appointments on a quiet machine (``--sessions 50
--appointments 1000000``); the defaults are small because the development machine is shared. Runs are
bounded: ``--rounds``, ``--writes``, ``--page-timeout`` and ``--max-minutes`` (browsing phase).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

AS_OF = dt.date(2026, 6, 30)
MONTHS = 12
APPOINTMENTS_PER_PATIENT_YEAR = 3.65
ROLES = ("manager", "qi", "coordinator")
PASSWORD = "a long load-bench passphrase"
CHROMIUM = "/usr/bin/chromium"
MAIN_CONTENT = (
    '[data-testid="stPlotlyChart"], [data-testid="stDataFrame"], [data-testid="stTable"], '
    '[data-testid="stVegaLiteChart"], [data-testid="stMetric"]'
)
#: Pages whose first visible content is not a chart or table: the model card, in the first tab.
PAGE_CONTENT = {"model": '[data-testid="stTabs"] [data-testid="stMarkdownContainer"]'}
SHOWN_ERROR = '[data-testid="stException"]'
#: Opened at a page's address, Streamlit's client first asks for these under that path (404) and then
#: finds them at the root: expected, counted apart from the errors.
BASE_PATH_PROBES = ("/_stcore/health", "/_stcore/host-config")
WRITE_APPOINTMENTS = 25  # the writers share these, so outcomes for one appointment collide


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks; NaN if empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be between 0 and 100 (got {q})")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    count: int
    p50: float
    p95: float


def summarize(times: Sequence[float]) -> Summary:
    """Count, median and 95th percentile of page times (seconds)."""
    return Summary(len(times), percentile(times, 50), percentile(times, 95))


def summarize_pages(samples: Sequence[tuple[str, float]]) -> dict[str, Summary]:
    """Per-page summaries of (page, seconds) samples, pages in first-seen order."""
    by_page: dict[str, list[float]] = {}
    for page, seconds in samples:
        by_page.setdefault(page, []).append(seconds)
    return {page: summarize(times) for page, times in by_page.items()}


def lost_writes(attempted: int, stored_before: int, stored_after: int) -> int:
    """Writes attempted but not found in the table afterwards (a write stored twice cannot hide a loss:
    more rows than attempts is reported as a negative number)."""
    if attempted < 0 or stored_before < 0 or stored_after < 0:
        raise ValueError("counts cannot be negative")
    return attempted - (stored_after - stored_before)


def peak_rss_kib(status_text: str) -> int | None:
    """``VmHWM`` (peak resident set, KiB) from the text of ``/proc/<pid>/status``; None if absent."""
    for line in status_text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def build_warehouse(data_dir: Path, appointments: int) -> None:
    """Generate, ingest, train a small model and score the coming appointments."""
    from carepulse import schema, warehouse
    from carepulse.metrics.no_show_model import score_upcoming, train_model
    from carepulse.metrics.no_show_model.pipeline import ModelParams
    from carepulse.pipelines.ingest import ingest
    from carepulse.pipelines.synthetic import generate_health_system
    from carepulse.settings import Settings

    settings = Settings(data_dir=data_dir)
    patients = max(200, round(appointments / APPOINTMENTS_PER_PATIENT_YEAR))
    start = time.perf_counter()
    generate_health_system(data_dir / "extracts", patients=patients, months=MONTHS, seed=11, as_of=AS_OF)
    engine = warehouse.make_engine(settings)
    schema.create_all(engine)
    summary = ingest(data_dir / "extracts", engine=engine, settings=settings)
    train_model(engine, settings, params=ModelParams(max_iter=40))
    score_upcoming(engine, settings)
    engine.dispose()
    print(
        f"warehouse: {patients:,} patients, load {summary.status}, built in {time.perf_counter() - start:.0f} s"
    )


def prepare_accounts(data_dir: Path, sessions: int) -> tuple[list[tuple[str, str]], list[str]]:
    """One fresh account per session (roles in turn; coordinators get every department) and the
    appointments the writers record outcomes for."""
    import sqlalchemy as sa

    from carepulse import warehouse
    from carepulse.access import accounts
    from carepulse.settings import Settings

    engine = warehouse.make_engine(Settings(data_dir=data_dir))
    stamp = f"{int(time.time()) % 100000}"
    try:
        with engine.connect() as conn:
            departments = conn.execute(sa.text("SELECT department_id FROM departments")).scalars().all()
            query = sa.text("SELECT DISTINCT appointment_id FROM risk_scores WHERE is_current = 1 LIMIT :n")
            upcoming = [str(a) for a in conn.execute(query, {"n": WRITE_APPOINTMENTS}).scalars()]
        users = []
        for i in range(sessions):
            role = ROLES[i % len(ROLES)]
            name = f"load_{role}_{stamp}_{i}"
            depts = departments if role == "coordinator" else None
            accounts.create_user(engine, name, role, PASSWORD, actor="load-bench", departments=depts)
            users.append((name, role))
        return users, upcoming
    finally:
        engine.dispose()


def count_outcomes(data_dir: Path) -> int:
    import sqlalchemy as sa

    from carepulse import warehouse
    from carepulse.settings import Settings

    engine = warehouse.make_engine(Settings(data_dir=data_dir))
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM outreach_outcomes")).scalar_one())
    finally:
        engine.dispose()


def write_outcomes(data_dir: str, appointments: list[str], count: int, name: str) -> tuple[int, list[str]]:
    """One coordinator process: ``count`` outcomes over ``appointments`` in turn; (attempted, errors)."""
    from carepulse import warehouse
    from carepulse.records import outreach
    from carepulse.settings import Settings

    engine = warehouse.make_engine(Settings(data_dir=Path(data_dir)))
    codes = list(outreach.OUTCOMES)
    errors: list[str] = []
    attempted = 0
    try:
        for i in range(count):
            attempted += 1
            try:
                outreach.record_outcome(
                    engine,
                    appointments[i % len(appointments)],
                    codes[i % len(codes)],
                    recorded_by=name,
                    note=f"load bench call {i}",
                )
            except Exception as exc:  # counted and reported, the bench goes on
                errors.append(f"{type(exc).__name__}: {str(exc)[:160]}")
            time.sleep(0.02)  # a coordinator clicks; spread the writes over the browsing
    finally:
        engine.dispose()
    return attempted, errors


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``carepulse serve`` on 127.0.0.1 over ``data_dir``; returns once its health check answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREPULSE_")}
    env |= {"CAREPULSE_DATA_DIR": str(data_dir), "CAREPULSE_SETTINGS_FILE": str(data_dir / "none.toml")}
    carepulse = Path(sys.executable).with_name("carepulse")
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(carepulse), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=data_dir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return server, url
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit("carepulse serve did not start; see " + str(log))


@dataclass
class Results:
    samples: list[tuple[str, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    probes: int = 0


async def run_session(
    browser: Any, url: str, user: tuple[str, str], args: argparse.Namespace, deadline: float, results: Results
) -> None:
    """One signed-in user: sign in, then open each of the role's pages by address, ``rounds`` times."""
    from carepulse.dashboard.pages import allowed_pages

    name, role = user
    timeout = args.page_timeout * 1000
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()

    def on_response(response: Any) -> None:
        path = response.url.split("?")[0][len(url) :]
        if response.status < 400:
            return
        if response.status == 404 and path.endswith(BASE_PATH_PROBES):
            results.probes += 1  # Streamlit's client looking for its base path under a page address
        else:
            results.errors.append(f"{name}: HTTP {response.status} {path}")

    page.on("response", on_response)
    try:
        await page.goto(url + "/", timeout=timeout)
        await page.get_by_label("Username").fill(name)
        await page.get_by_role("textbox", name="Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await page.locator(MAIN_CONTENT).first.wait_for(timeout=timeout)
        for _ in range(100):  # the handoff sets the session cookie just after the first page
            if any(c["name"].startswith("carepulse") for c in await context.cookies()):
                break
            await page.wait_for_timeout(200)
        for _ in range(args.rounds):
            for spec in allowed_pages(role):
                if time.monotonic() > deadline:
                    return
                start = time.perf_counter()
                try:
                    await page.goto(f"{url}/{spec.url_path}", timeout=timeout)
                    content = PAGE_CONTENT.get(spec.url_path, MAIN_CONTENT)
                    await page.locator(f"{content} >> visible=true").first.wait_for(timeout=timeout)
                    results.samples.append((spec.url_path, time.perf_counter() - start))
                except Exception as exc:  # a timeout: counted, the session goes on
                    results.errors.append(f"{name} {spec.url_path}: {type(exc).__name__}")
                shown = await page.locator(SHOWN_ERROR).count()
                if shown:
                    results.errors.append(f"{name} {spec.url_path}: {shown} exception(s) on the page")
                if await page.get_by_role("button", name="Sign in").count():
                    results.errors.append(f"{name} {spec.url_path}: signed out")
    except Exception as exc:
        results.errors.append(f"{name} sign-in: {type(exc).__name__}: {str(exc)[:120]}")
    finally:
        await context.close()


async def browse(url: str, users: list[tuple[str, str]], args: argparse.Namespace) -> Results:
    from playwright.async_api import async_playwright

    from carepulse.dashboard.pdf import CHROMIUM_FLAGS

    results = Results()
    deadline = time.monotonic() + args.max_minutes * 60
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=list(CHROMIUM_FLAGS), headless=True
        )
        try:
            await asyncio.gather(*(run_session(browser, url, u, args, deadline, results) for u in users))
        finally:
            await browser.close()
    return results


def server_peak_rss_mib(pid: int) -> float | None:
    try:
        kib = peak_rss_kib(Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return None
    return None if kib is None else kib / 1024


def report(
    results: Results, attempted: int, stored: int, writer_errors: list[str], rss: float | None
) -> None:
    print(f"\n{'page':<16}{'n':>5}{'p50 s':>9}{'p95 s':>9}")
    for page, s in summarize_pages(results.samples).items():
        print(f"{page:<16}{s.count:>5}{s.p50:>9.2f}{s.p95:>9.2f}")
    overall = summarize([t for _, t in results.samples])
    print(f"{'all pages':<16}{overall.count:>5}{overall.p50:>9.2f}{overall.p95:>9.2f}")
    print(f"\nerrors: {len(results.errors)} (not counted: {results.probes} base-path probes answered 404)")
    for error in results.errors[:20]:
        print(f"  {error}")
    lost = lost_writes(attempted, 0, stored)
    print(f"writes: attempted {attempted}, stored {stored}, lost {lost}; writer errors {len(writer_errors)}")
    for error in writer_errors[:10]:
        print(f"  {error}")
    print("load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    print("server peak RSS: " + ("unknown" if rss is None else f"{rss:,.0f} MiB"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=10, help="concurrent browser sessions (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="visits of each page per session (default 2)")
    parser.add_argument("--writers", type=int, default=2, help="coordinator writer processes (default 2)")
    parser.add_argument("--writes", type=int, default=100, help="outcomes per writer (default 100)")
    parser.add_argument("--appointments", type=int, default=20_000, help="warehouse size (default 20000)")
    parser.add_argument("--data-dir", type=Path, help="reuse (or build once into) this data dir")
    parser.add_argument("--page-timeout", type=float, default=90, help="seconds per page (default 90)")
    parser.add_argument("--max-minutes", type=float, default=20, help="bound on browsing (default 20)")
    args = parser.parse_args(argv)
    if min(args.sessions, args.rounds, args.writers, args.writes) < 1:
        parser.error("--sessions, --rounds, --writers and --writes must be at least 1")

    data_dir = (args.data_dir or Path(tempfile.mkdtemp(prefix="carepulse-load-"))).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if not (data_dir / "warehouse.sqlite").exists():
        build_warehouse(data_dir, args.appointments)
    users, appointments = prepare_accounts(data_dir, args.sessions)
    if not appointments:
        raise SystemExit("the warehouse has no scored appointments to record outcomes for")
    before = count_outcomes(data_dir)
    print(f"{args.sessions} sessions x {args.rounds} rounds, {args.writers} writers x {args.writes} outcomes")

    server, url = start_server(data_dir, data_dir / "serve.log")
    pool = multiprocessing.get_context("spawn").Pool(args.writers)
    try:
        jobs = [(str(data_dir), appointments, args.writes, f"load_writer_{i}") for i in range(args.writers)]
        pending = pool.starmap_async(write_outcomes, jobs)
        results = asyncio.run(browse(url, users, args))
        outcomes = pending.get(timeout=600)
        rss = server_peak_rss_mib(server.pid)
    finally:
        pool.close()
        pool.join()
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    attempted = sum(a for a, _ in outcomes)
    writer_errors = [e for _, errors in outcomes for e in errors]
    stored = count_outcomes(data_dir) - before
    report(results, attempted, stored, writer_errors, rss)
    print(f"data dir: {data_dir} (reuse with --data-dir)")
    return 0 if not results.errors and lost_writes(attempted, before, before + stored) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
