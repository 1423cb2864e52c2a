"""Inference batching: concurrent requests wait a short window and go to the model in one call.

Every request's input joins a queue. While the model is idle, the queue is flushed into one call of
``run_batch`` when it reaches ``max_batch`` or ``window_s`` after its first item, whichever comes
first; while a call is running, requests keep queueing and the next call takes all of them (up to
``max_batch``) the moment it ends. Calls run on one worker thread, so the event loop keeps
accepting requests while the model works, and the batch grows with the load. ``enabled=False`` runs each request alone (the benchmark's baseline).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


class MicroBatcher:
    def __init__(self, run_batch: Callable[[list], list], max_batch: int = 64, window_s: float = 0.002,
                 enabled: bool = True):  # fmt: skip
        if max_batch < 1 or window_s < 0:
            raise ValueError(f"max_batch >= 1 and window_s >= 0 required, got {max_batch}, {window_s}")
        self.run_batch = run_batch
        self.max_batch = max_batch
        self.window_s = window_s
        self.enabled = enabled
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        self._queue: list[tuple[object, asyncio.Future]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._running = False
        self.batches = 0
        self.items = 0

    async def submit(self, item):
        loop = asyncio.get_running_loop()
        if not self.enabled:
            self.batches += 1
            self.items += 1
            return (await loop.run_in_executor(self._pool, self.run_batch, [item]))[0]
        future = loop.create_future()
        self._queue.append((item, future))
        if self._running:
            pass  # the running call's end takes the queue
        elif len(self._queue) >= self.max_batch:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.window_s, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._running or not self._queue:
            return
        batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
        self._running = True
        asyncio.get_running_loop().create_task(self._run(batch))

    async def _run(self, batch) -> None:
        loop = asyncio.get_running_loop()
        self.batches += 1
        self.items += len(batch)
        failed: Exception | None = None
        try:
            results = await loop.run_in_executor(self._pool, self.run_batch, [item for item, _ in batch])
        except Exception as exc:  # every waiting request gets the error, none hangs
            failed, results = exc, [exc] * len(batch)
        finally:
            self._running = False
        for (_, fut), result in zip(batch, results, strict=True):
            if not fut.done():
                # a batch that failed raises in every waiter; an item's own error (an exception object in the
                # results, e.g. an asset the model was not trained on) is that item's answer, for it to report
                if failed is not None:
                    fut.set_exception(failed)
                else:
                    fut.set_result(result)
        if self._queue:  # what queued during the call goes next, at once
            self._flush()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


__all__ = ["MicroBatcher"]
