"""One convention for every command-line tool (``tools/*.py``, ``datasets/*.py``).

* A user error (an input file or folder CellTrack cannot use, a bad option, unusable weights, an output
  folder in the way) exits with status 2 and one line on stderr,
  ``error: <file/frame>: <what is wrong>. <what to do>``. ``--debug`` adds the traceback.
* Ctrl-C exits with status 130; a tool that can continue says so (``--resume``).
* Anything else is a bug in CellTrack: Python's own traceback, status 1.

A tool's ``main(argv)`` is decorated with :func:`tool` and builds its parser with :class:`ToolParser`::

    @tool(resumable=True)
    def main(argv=None) -> int:
        args = ToolParser(description=__doc__).parse_args(argv)
        ...

    if __name__ == "__main__":
        sys.exit(main())
"""
import argparse
import functools
import sys
import traceback
from pathlib import Path
from typing import Callable, Optional, Sequence

from .checkpoint import WeightsError
from .data.movie import DataError

# Errors that mean "the input is wrong", not "CellTrack is wrong". The OSErrors are about paths the user
# gave (a file where a folder should be, no permission, ...); their message names the path.
USER_ERRORS = (DataError, WeightsError, FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError,
               PermissionError)
EXIT_USER_ERROR, EXIT_INTERRUPTED = 2, 130


class ToolParser(argparse.ArgumentParser):
    """argparse with the tools' conventions: a ``--debug`` flag, and usage errors on one line (status 2)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        self.add_argument("--debug", action="store_true", help="show the traceback of an error")

    def error(self, message):
        self.exit(EXIT_USER_ERROR, f"error: {self.prog}: {message}. See {self.prog} --help.\n")


def positive_int(text: str) -> int:
    """argparse ``type`` for counts and sizes: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer")
    return value


def error_line(error: BaseException) -> str:
    """The one line a user error prints: ``error: <file/frame>: <what is wrong>. <what to do>``."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        message = f"{error.filename}: {error.strerror}. Check the path and its permissions."
    else:
        message = str(error)
    return "error: " + " ".join(message.split())


def tool(resumable: bool = False) -> Callable:
    """Decorate a tool's ``main(argv) -> int`` with the convention above; the result returns the exit status.

    ``resumable``: the tool has ``--resume``, so an interrupted run says that it continues there.
    """

    def decorate(main: Callable[[Optional[Sequence[str]]], Optional[int]]) -> Callable:
        @functools.wraps(main)
        def run(argv: Optional[Sequence[str]] = None) -> int:
            argv = sys.argv[1:] if argv is None else [str(arg) for arg in argv]
            try:
                return main(argv) or 0
            except KeyboardInterrupt:
                hint = "run the same command with --resume to continue where it stopped" if resumable else (
                    "nothing was finished; run the command again")
                print(f"\ninterrupted: {hint}.", file=sys.stderr)
                return EXIT_INTERRUPTED
            except USER_ERRORS as error:
                if "--debug" in argv:
                    traceback.print_exc()
                print(error_line(error), file=sys.stderr)
                return EXIT_USER_ERROR

        return run

    return decorate


def load_config(config_file: str, opts: Sequence[str] = ()):
    """CellTrack's config (:func:`~celltrack.config.get_celltrack_cfg`), with user errors for a missing
    config file and for unknown or malformed keys in the file or the ``KEY VALUE`` overrides."""
    from .config import get_celltrack_cfg

    if not Path(config_file).is_file():
        raise DataError(f"{config_file}: no such config file. Pass one of configs/*.yaml as --config-file.")
    try:
        return get_celltrack_cfg(config_file, opts)
    except (KeyError, ValueError, AssertionError, TypeError) as error:
        message = str(error.args[0] if isinstance(error, KeyError) and error.args else error).rstrip(".")
        raise DataError(f"{config_file}: {message} (in the file or the KEY VALUE overrides). Check the key names "
                        f"and values against celltrack/config.py and detectron2's defaults.") from error
