"""Worker processes that end with their command. A ``kill -9`` of a command leaves its workers
(``tokenize --jobs``, training's data loader) orphaned: they would go on with their work, then wait
forever for more. ``exit_with_parent``, run first in each worker, ends them instead."""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading

PR_SET_PDEATHSIG = 1      # linux/prctl.h: the signal a process gets when its parent dies
GRACE_SECONDS = 1.0       # time to unwind (temp files removed) before the worker exits regardless
WATCH_SECONDS = 1.0       # how often the portable fallback looks at the parent


def exit_with_parent(parent_pid: int, *_ignored: object) -> None:
    """End this worker process (exit status 143) when the process ``parent_pid`` dies.

    On Linux the kernel sends SIGTERM at the parent's death (prctl PR_SET_PDEATHSIG); elsewhere a
    daemon thread checks the parent's pid every second. SIGTERM unwinds the worker's work, so
    ``fileio.atomic_write`` removes its temp file, then ends the process even if a worker loop
    catches the exception. Extra arguments (a DataLoader's worker id) are ignored. Raises nothing.
    """
    signal.signal(signal.SIGTERM, _leave)
    if not _death_signal(signal.SIGTERM):
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    if os.getppid() != parent_pid:   # the parent died before the signal was armed: nothing to unwind yet
        os._exit(128 + signal.SIGTERM)


def _death_signal(signum: int) -> bool:
    """Ask Linux to send ``signum`` to this process when its parent dies; False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        threading.Event().wait(WATCH_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)


def _leave(signum: int, frame: object) -> None:
    # a process pool's worker loop catches every exception of the task and waits for the next one,
    # which a dead parent never sends: the timer ends the process whatever catches the exception
    timer = threading.Timer(GRACE_SECONDS, os._exit, (128 + signum,))
    timer.daemon = True
    timer.start()
    raise SystemExit(128 + signum)   # unwinds first, running finally blocks (temp-file removal)
