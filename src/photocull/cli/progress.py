"""The scan's progress bar: files/s, ETA and the running median score."""

from __future__ import annotations

import bisect

from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TaskID, TextColumn,
                           TimeRemainingColumn)
from rich.text import Text

from photocull.records import FileResult


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:5.1f} files/s" if task.speed else "      files/s", style="cyan")


class ScanProgress:
    """Shows progress on stderr and logs one line per unreadable file."""

    def __init__(self, console: Console, enabled: bool = True):
        self.console = console
        self.enabled = enabled
        self._scores: list[float] = []
        self._progress = Progress(
            TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
            TextColumn("ETA"), TimeRemainingColumn(), TextColumn("median score {task.fields[median]}"),
            console=console, transient=True, disable=not enabled,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> ScanProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._progress.stop()

    def on_plan(self, total: int) -> None:
        self._task = self._progress.add_task("scan", total=total, median="-")

    def on_result(self, result: FileResult, done: int, total: int) -> None:
        if result.status == "unreadable":
            # One unbroken line per file, whatever the terminal's width: easy to read back and to grep.
            self._progress.console.print(f"[red]unreadable[/] {escape(str(result.path))}: {escape(result.reason or '')}",
                                         highlight=False, soft_wrap=True)
        if result.photo is not None and "technical" in result.photo.analyses:
            bisect.insort(self._scores, result.photo.analyses["technical"][1].technical_score)
        median = f"{self._scores[len(self._scores) // 2]:.0f}" if self._scores else "-"
        if self._task is not None:
            self._progress.update(self._task, completed=done, median=median)
