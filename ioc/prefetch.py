"""Reading a feed's next stream entries while the aggregator works on the ones before.

Under a backlog a read is a reply of a million records that Redis serialises on its own core
while the aggregator waits; read one batch ahead, the two overlap. What was read ahead and not
yet handed over is never lost: at a stop it is handed over for the last cycle, and if the worker
loses its lease it stays pending in the consumer group, where the feed's next owner takes it over
(as it does the entries of a worker that died).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from ioc.streams import Entry

log = logging.getLogger(__name__)

HANDOVER_POLL_S = 0.05


class Prefetch:
    """One thread that calls ``read`` again as soon as its last result was taken."""

    def __init__(self, read: Callable[[], list[Entry]], name: str) -> None:
        self.read = read
        self.ready: queue.Queue[list[Entry] | BaseException] = queue.Queue(maxsize=1)
        self.stopping = threading.Event()
        self.held: list[Entry] = []  # read after a stop began, not put in the queue
        self.thread = threading.Thread(target=self._run, name=f"prefetch-{name}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                result: list[Entry] | BaseException = self.read()
            except Exception as exc:  # a lost connection: the worker's own thread raises it
                result = exc
            while True:
                try:
                    self.ready.put(result, timeout=HANDOVER_POLL_S)
                    break
                except queue.Full:
                    if self.stopping.is_set():
                        if isinstance(result, list):
                            self.held = result
                        return
            if isinstance(result, BaseException):
                return

    def take(self) -> list[Entry]:
        """The next entries read (waiting for them); raises what the read raised."""
        result = self.ready.get()
        if isinstance(result, BaseException):
            raise result
        return result

    def stop(self) -> list[Entry]:
        """Stop reading ahead; returns whatever was read and not yet taken."""
        self.stopping.set()
        self.thread.join()
        left: list[Entry] = []
        while not self.ready.empty():
            result = self.ready.get_nowait()
            if isinstance(result, list):
                left += result
        return left + self.held
