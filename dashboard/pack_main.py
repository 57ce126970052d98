"""Build a saved view's meeting pack outside the browser (what ``carepulse pack`` runs).

    python -m carepulse.dashboard.pack_main --view NAME --out pack.pdf [--owner USER] [--rolling]

The same :mod:`carepulse.dashboard.meeting_pack` the QI page's buttons call, run without a Streamlit
server (its caches work in bare mode), as the saved view's owner: their role decides what is
suppressed, the export is audited under their name, and an owner without ``export:aggregate``
(or a disabled account) gets no pack.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def build(view_name: str, out: Path, *, owner: str | None = None, rolling: bool = False) -> int:
    """Write the pack (PDF for ``.pdf``, else HTML) to ``out``; returns its size in bytes."""
    from carepulse.access import accounts, can
    from carepulse.dashboard import data, filters, meeting_pack
    from carepulse.errors import CarePulseError
    from carepulse.records import saved_views

    engine = data.engine()
    saved = saved_views.get_view(engine, view_name, owner=owner)
    user = accounts.get_user(engine, saved.owner)
    if user is None or user.disabled:
        raise CarePulseError(f"The owner of view {view_name!r} ({saved.owner}) has no active account.")
    if not can(user.role, "export:aggregate"):
        raise CarePulseError(f"{saved.owner}'s role ({user.role}) may not export meeting packs.")
    run = data.run_id()
    if run is None:
        raise CarePulseError("No data is loaded: run `carepulse ingest DIR` first.")
    view = filters.from_params(saved.params, data.filter_options(run), rolling=rolling)
    make = meeting_pack.pdf_downloader if out.suffix.lower() == ".pdf" else meeting_pack.downloader
    payload = make(run, view, user)()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(payload)
    return len(payload)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--view", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--owner")
    parser.add_argument("--rolling", action="store_true")
    args = parser.parse_args(argv)
    logging.getLogger("streamlit").setLevel(logging.ERROR)  # bare mode warns about its missing runtime
    from carepulse.errors import CarePulseError

    try:
        size = build(args.view, args.out, owner=args.owner, rolling=args.rolling)
    except CarePulseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.out} ({size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
