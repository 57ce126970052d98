"""Progress reporting for the generator: silent, a rich bar, or a caller's callback."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

Callback = Callable[[str, int, int], None]


@contextlib.contextmanager
def reporter(progress: bool | Callback | None) -> Iterator[Callback]:
    """Yield ``report(stage, done, total)``: a no-op, a rich progress bar, or ``progress`` itself."""
    if callable(progress):
        yield progress
        return
    if not progress:
        yield lambda stage, done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    bars = Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    )
    tasks: dict[str, TaskID] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bars.add_task(stage, total=total)
        bars.update(tasks[stage], completed=done, total=total)

    with bars:
        yield report
