"""``python -m snaprewrite`` and the console script: signal handlers go in before the command line's imports."""

from . import process

process.install()

from .cli import main  # noqa: E402

if __name__ == "__main__":
    main()
