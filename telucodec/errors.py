"""The one exception type a user sees: a problem with their input, reported in one line."""


class TeluCodecError(Exception):
    """An error caused by user input (a file, a flag, a checkpoint).

    The CLIs print ``telucodec: error: <message>`` and exit with code 2 on it,
    never a traceback. Messages name the file and the problem.
    """


class OutputError(TeluCodecError):
    """An output that cannot be written (not a folder, permission, read-only, disk full).

    Not the input's fault, so a batch stops at it rather than skipping file after file."""
