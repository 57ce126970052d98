"""Writes that do not get lost (issue 16 item 7): coordinators in separate processes recording outcomes
for the same appointment at the same moment all land in its history, with their audit rows chained."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import sqlalchemy as sa

from carepulse.access import audit_chain
from carepulse.records import outreach
from tests.test_load_lock import ROOT
from tests.test_outreach import toy_frames, wh  # noqa: F401  (fixtures)

WRITER = textwrap.dedent(
    """
    import sys
    from carepulse import warehouse
    from carepulse.records import outreach
    from carepulse.settings import get_settings

    engine = warehouse.make_engine(get_settings(), url=sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()  # every writer starts at once
    for i in range(int(sys.argv[3])):
        outreach.record_outcome(engine, sys.argv[2], "reached", recorded_by=sys.argv[4], note=f"call {i}")
    """
)


def test_two_coordinators_writing_at_once_lose_nothing(wh) -> None:  # noqa: F811
    engine, _, upcoming = wh
    appointment = upcoming.item(0, "appointment_id")
    url = engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    per_writer = 60
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, appointment, str(per_writer), name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in ("carl", "dana")
    ]
    for writer in writers:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    for writer in writers:
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.flush()
    errors = [writer.communicate(timeout=240)[1] for writer in writers]
    assert [w.returncode for w in writers] == [0, 0], [e[-1500:] for e in errors]

    history = outreach.read_outcomes(engine).filter(
        outreach.read_outcomes(engine)["appointment_id"] == appointment
    )
    assert history.height == 2 * per_writer
    assert sorted(set(history["recorded_by"])) == ["carl", "dana"]
    with engine.connect() as conn:
        audited = conn.execute(
            sa.text("SELECT count(*) FROM audit_log WHERE action = 'outreach.record' AND target = :t"),
            {"t": f"appointment:{appointment}"},
        ).scalar()
    assert audited == 2 * per_writer
    assert audit_chain.verify(engine).intact  # concurrent writers never forked the chain
