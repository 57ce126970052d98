"""Capture every dashboard page, per role, at 1440 and 390 px into docs/screenshots/ (``make screenshots``).

Builds a small synthetic demo (``carepulse demo`` without serving: nothing real, and the data dir is a
temporary folder), gives each role an account, serves the dashboard on 127.0.0.1 and walks every page
each role may open in headless Chromium. Tables on the worklist are masked (synthetic names still look
like people). PNGs are quantised to 256 colours to stay small.

    .venv/bin/python docs/screenshots.py [--patients 1500] [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = {1440: 900, 390: 844}


def _shrink(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as image:
        image.convert("RGB").quantize(colors=256).save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1500)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="carepulse-screenshots-"))
    os.environ["CAREPULSE_DATA_DIR"] = str(home / "data")
    sys.path.insert(0, str(ROOT))

    from carepulse import warehouse
    from carepulse.access import ROLES, accounts
    from carepulse.cli.demo import run_demo
    from carepulse.dashboard.pages import allowed_pages
    from carepulse.settings import get_settings
    from tests.browser_support import carepulse_server, chromium_page
    from tests.browser_tour import close_sidebar_if_narrow, open_page, sign_in
    from tests.dashboard_support import PASSWORD

    get_settings.cache_clear()
    run_demo(patients=args.patients, months=12, seed=7)
    engine = warehouse.make_engine(get_settings())
    departments = engine.connect().exec_driver_sql("select department_id from departments").scalars().all()
    for role in ROLES:
        if accounts.get_user(engine, f"shot_{role}") is None:
            accounts.create_user(
                engine, f"shot_{role}", role, PASSWORD, actor="screenshots", departments=",".join(departments)
            )
    engine.dispose()
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    with carepulse_server(home) as url:
        for role in ROLES:
            for width, height in WIDTHS.items():
                with chromium_page(width=width, height=height) as page:
                    try:
                        sign_in(page, url, f"shot_{role}")
                    except Exception:
                        page.screenshot(path=Path(tempfile.gettempdir()) / f"carepulse-signin-{role}.png")
                        raise
                    for index, spec in enumerate(allowed_pages(role)):
                        if index:
                            open_page(page, spec.title)
                        close_sidebar_if_narrow(page, width)
                        mask = (
                            [page.locator('[data-testid="stDataFrame"]')]
                            if spec.url_path == "worklist"
                            else []
                        )
                        path = args.out / f"{role}-{spec.url_path}-{width}.png"
                        page.screenshot(path=path, mask=mask)
                        _shrink(path)
                        written.append(path)
                        print(f"{path.relative_to(ROOT)}  {path.stat().st_size // 1024} KB", flush=True)
    print(f"{len(written)} screenshots in {args.out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
