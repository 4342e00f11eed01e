"""The training run's TensorBoard writer, whose write failures (a full disk) are one line."""
from __future__ import annotations

import threading
from pathlib import Path

from .fileio import write_error


class Board:
    """TensorBoard's SummaryWriter (rank 0, ``folder``), whose write failures are one line: its
    writer thread hands an error (a full disk) to the next call, which raises it here as an
    OutputError naming ``folder`` (the thread's own traceback is not printed)."""

    def __init__(self, folder: Path):
        from torch.utils.tensorboard import SummaryWriter

        threading.excepthook = _quiet_handed_over(threading.excepthook)
        self.folder, self._writer = folder, SummaryWriter(str(folder))

    def __getattr__(self, name: str):
        method = getattr(self._writer, name)

        def call(*args, **kwargs):
            try:
                return method(*args, **kwargs)
            except OSError as exc:
                raise write_error(self.folder, exc) from None
        return call


def _quiet_handed_over(hook):
    """``threading.excepthook`` that stays silent for an error a thread keeps for the main thread
    to raise (``thread.exception``, as TensorBoard's writer thread does): it is reported there once."""
    def excepthook(args: threading.ExceptHookArgs) -> None:
        if getattr(args.thread, "exception", None) is not args.exc_value:
            hook(args)
    return excepthook
