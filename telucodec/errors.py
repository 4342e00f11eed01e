"""The one exception type a user sees: a problem with their input, reported in one line."""


class TeluCodecError(Exception):
    """An error caused by user input (a file, a flag, a checkpoint).

    The CLIs print ``telucodec: error: <message>`` and exit with code 2 on it,
    never a traceback. Messages name the file and the problem.
    """
