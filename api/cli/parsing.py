"""The argument parser every `continuum` command is built with.

Two habits over plain argparse: a usage mistake is one line on stderr naming the option and
where to read more (argparse prints the whole usage block first), and every option's default
is shown in `--help`.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

# Exit codes (README, "Command line"): 0 done, 1 refused (the store has events already, a
# stream is broken, views differ), 2 bad usage or settings, 3 a service did not answer.
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: X)" to every option that has a default worth naming.

    Options without one (None, an off flag, an empty list) say in their help what happens
    when they are left out.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False, [], argparse.SUPPRESS):
            return action.help
        return super()._get_help_string(action)


class CommandParser(argparse.ArgumentParser):
    """argparse with one-line errors and defaults in help; its subcommands are built alike."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (`{self.prog} --help` lists the options)\n")


class CommandFailed(Exception):
    """A command stopped for a reason the operator can fix: one line, and an exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code
