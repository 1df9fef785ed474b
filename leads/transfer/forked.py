"""A second process for pure-Python work on batches: the work of batch k+1 runs in a forked child
while this process goes on with batch k, so a long import uses both cores of a machine instead of
one (Python runs one thread at a time; a process has its own interpreter).

The child is a fork of this process taken when ``ForkedMap`` is entered: it sees every object this
process had built by then (an importer's company, statuses, members, rules) and nothing changed
afterwards. It must not use the database: it shares this process's connections, so a query there
would interleave with this process's own on the same socket or file. Any query it tries is refused
with an error (``QueryInHelper``) that fails the work instead. It never runs exit handlers either:
it leaves with ``os._exit``, so nothing this process owns is closed or flushed twice.

The child has the batches already (its copy of them, taken at the fork); only the results travel,
pickled, through a pipe, whose buffer holds the child back while this process is busy. A child
that fails sends its traceback, raised here as ``HelperFailed``; one that dies is reported the
same way. Leaving the block closes the pipe and reaps the child (killed first when the block ends
on an error)."""

from __future__ import annotations

import gc
import os
import signal
import traceback
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, Pipe
from typing import Any

from django.db import connections


class HelperFailed(RuntimeError):
    """The work failed (or the helper process died) in the helper process."""


class QueryInHelper(RuntimeError):
    """The helper process tried to use the database it shares with its parent."""


def available() -> bool:
    """Whether this platform can fork (Linux, macOS); elsewhere the work stays in-process."""
    return hasattr(os, "fork")


def _refuse(execute, sql, params, many, context):
    raise QueryInHelper(f"The helper process may not query the database: {sql[:200]}")


def _serve(channel: Connection, work: Callable[[Any], Any], batches: Iterable[Any]) -> None:
    """The child: each batch's result (or the traceback) out, then the end; the pipe's buffer
    holds it back while the parent is busy, so it is never more than a result ahead."""
    code = 0
    try:
        for connection in connections.all(initialized_only=True):
            connection.execute_wrappers.append(_refuse)
        for batch in batches:
            try:
                result = ("ok", work(batch))
            except Exception:
                channel.send(("failed", traceback.format_exc()))
                break
            channel.send(result)
        else:
            channel.send(("end", None))
    except BaseException:  # the parent went away (broken pipe) or the child was interrupted
        code = 1
    finally:
        os._exit(code)


class ForkedMap:
    """``with ForkedMap(work, batches) as results: for result in results: …`` — ``work`` applied to
    each of ``batches`` in a forked child, in order, while the caller uses the results before.
    ``batches`` is the child's own copy, taken at the fork: the parent sends nothing (only the
    results travel), so neither side ever waits for the other to read."""

    def __init__(self, work: Callable[[Any], Any], batches: Iterable[Any]):
        self.work, self.batches = work, batches
        self.pid: int | None = None
        self.channel: Connection | None = None
        self._thaw = False

    def __enter__(self) -> Iterator[Any]:
        ours, theirs = Pipe(duplex=False)
        # What exists now is frozen out of the cycle collector's reach until the block ends: the
        # child's collections neither walk it nor copy it page by page by touching it, and this
        # process's, run often while it unpickles the results, walk only what it made since.
        # (Thawed after, unless something else, such as a preforking server, had frozen it first.)
        self._thaw = gc.get_freeze_count() == 0
        gc.freeze()
        pid = os.fork()
        if pid == 0:  # the child: whatever happens, it never returns into the caller's code
            try:
                ours.close()
                _serve(theirs, self.work, self.batches)
            finally:
                os._exit(1)
        theirs.close()
        self.pid, self.channel = pid, ours
        return self._results()

    def __exit__(self, exc_type, *exc) -> None:
        self.channel.close()
        if exc_type is not None:  # the results are no longer wanted: no need to wait for them
            os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        if self._thaw:
            gc.unfreeze()

    def _results(self) -> Iterator[Any]:
        while True:
            try:
                status, value = self.channel.recv()
            except EOFError:
                raise HelperFailed("The helper process stopped without an answer.") from None
            if status == "end":
                return
            if status != "ok":
                raise HelperFailed(f"The work failed in the helper process:\n{value}")
            yield value
