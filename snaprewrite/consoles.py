"""The rich consoles and tables ``report`` prints with; loaded only when a table, a bar or a console is wanted.

Importing rich is ~0.05-0.1 s of a command's start: JSON and ``fields`` output never need it.
"""

from rich.console import Console, ConsoleDimensions
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

UNLIMITED = 1 << 20  # columns of a console that is not a terminal: wide enough for any value


class FullConsole(Console):
    """A rich Console that is as wide as its widest line when it does not write to a terminal."""

    @property
    def size(self) -> ConsoleDimensions:
        if not self.is_terminal:
            return ConsoleDimensions(UNLIMITED, 25)
        return Console.size.fget(self)

    @size.setter
    def size(self, new_size) -> None:
        Console.size.fset(self, new_size)


class Table(RichTable):
    """A rich Table whose cells wrap rather than end in an ellipsis."""

    def add_column(self, *args, **kwargs) -> None:
        kwargs.setdefault("overflow", "fold")
        super().add_column(*args, **kwargs)


def stdout() -> FullConsole:
    return FullConsole(highlight=False, soft_wrap=True)


def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def bar(console: Console) -> Progress:
    """bar is ``report.progress``'s bar: description, bar, records counted, time elapsed; gone when done."""
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,} records"),
                    TimeElapsedColumn(), console=console, transient=True)
