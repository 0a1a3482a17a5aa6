"""Headless subcommands: each module has `add_arguments(parser)` and `main(args) -> int`."""


class UsageError(Exception):
    """Bad input from the user: `lrtui` prints it as one line on stderr and exits with code 2."""
