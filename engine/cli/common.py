"""Helpers shared by CLI commands: settings, Redis connections, clean one-line errors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import typer
from arq.connections import ArqRedis
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from engine.errors import DispatchError
from engine.queue import open_queue
from engine.settings import Settings, load_settings

T = TypeVar("T")
console = Console()
errors = Console(stderr=True, soft_wrap=True)  # an error stays one line, however narrow the terminal


def settings() -> Settings:
    """Load settings; a bad value is a one-line error and exit 2."""
    try:
        return load_settings()
    except ValidationError as exc:  # one line per setting, not pydantic's multi-line report
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        fail(f"configuration: {problems}")
        raise  # unreachable
    except (ValueError, OSError) as exc:  # e.g. an unparsable KOODISPATCH_CONFIG file
        fail(f"configuration: {exc}")
        raise  # unreachable


def fail(message: str, code: int = 2) -> None:
    """Print one error line and exit non-zero."""
    errors.print(f"[bold red]error:[/] {escape(' '.join(message.split()))}", highlight=False, markup=True)
    raise typer.Exit(code)


def run(coro_fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine with uvloop when available; DispatchErrors become one-line errors."""
    try:
        import uvloop

        runner: Callable[[Awaitable[T]], T] = uvloop.run  # type: ignore[assignment]
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        runner = asyncio.run  # type: ignore[assignment]
    try:
        return runner(coro_fn())
    except DispatchError as exc:
        fail(str(exc))
        raise  # unreachable


def required_redis_url(cfg: Settings) -> str:
    """Commands that act on a long-lived campaign need a real Redis, not a throwaway private one."""
    if not cfg.redis_url:
        fail("REDIS_URL is not set: this command needs the Redis your workers use (e.g. redis://host:6379/0)")
    assert cfg.redis_url is not None
    return cfg.redis_url


@contextlib.asynccontextmanager
async def queue(url: str) -> AsyncIterator[ArqRedis]:
    """An ArqRedis connection closed on exit."""
    redis = await open_queue(url)
    try:
        yield redis
    finally:
        await redis.aclose()


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
