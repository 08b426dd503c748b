"""Calls on one event loop that arrive while a group is in flight go together in the next.

The database does this with its own commits (group commit); here it turns a statement per
call into a statement per handful of calls: each caller waits for its own answer, and each
group's statement begins after every call in it arrived, so an answer is as fresh as a
statement of the caller's own would have been.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupedCalls(Generic[T, R]):
    """`await call(item)`: `run`'s answer for `item`, from a `run(group)` that began after
    this call. `run` answers a group with one result per item, in order; if it raises, every
    call of the group raises that error. At most `limit` items go in one group."""

    def __init__(self, run: Callable[[Sequence[T]], Awaitable[list[R]]], limit: int) -> None:
        self._run = run
        self._limit = limit
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._draining: asyncio.Task[None] | None = None

    async def call(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                group = self._waiting[: self._limit]
                del self._waiting[: self._limit]
                try:
                    results = await self._run([item for item, _ in group])
                except BaseException as error:
                    for _, future in group:
                        if not future.done():
                            future.set_exception(error)
                    if not isinstance(error, Exception):
                        raise
                else:
                    for (_, future), result in zip(group, results, strict=True):
                        if not future.done():  # its caller may have been cancelled
                            future.set_result(result)
        finally:
            self._draining = None
