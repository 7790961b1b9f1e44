"""Helpers shared by CLI commands: settings, Redis connections, clean one-line errors.

Heavy libraries (redis, arq, pydantic-settings) are imported by the helper that needs them, so
``koodispatch --help`` starts without them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast
from urllib.parse import parse_qs, unquote, urlsplit

import typer

from engine.errors import ConfigError, DispatchError
from engine.phones import mask_numbers

if TYPE_CHECKING:
    import redis.asyncio as aioredis
    from arq.connections import ArqRedis
    from rich.console import Console

    from engine.runtime.settings import Settings

T = TypeVar("T")

# Files the command reads itself, so that one it may not read is one error line with the system's reason
# (click's own check, ``readable``, prints a box of several lines instead).
SpecFile = Annotated[Path, typer.Argument(help="campaign TOML file", readable=False)]
RecipientsFile = Annotated[
    Path | None, typer.Option(help="recipient CSV/xlsx (overrides the spec)", readable=False)
]


class _Console:
    """A rich Console made on first use: a command that prints one plain line (``pause``) never imports
    rich, a fifth of its start-up."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def _made(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self._made(), name)

    # rich's Live enters its console (``with console:``), which Python looks up on the type, not __getattr__
    def __enter__(self) -> Console:
        return self._made().__enter__()

    def __exit__(self, *exc: object) -> None:
        self._made().__exit__(*exc)


console = cast("Console", _Console())
errors = cast("Console", _Console(stderr=True, soft_wrap=True))  # an error stays one line, however narrow


def settings() -> Settings:
    """Load settings; a bad value is a one-line error and exit 2."""
    from pydantic import ValidationError

    from engine.runtime.settings import load_settings

    try:
        return load_settings()
    except ValidationError as exc:  # one line per setting, not pydantic's multi-line report
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
        )
        fail(f"configuration: {problems}")
        raise  # unreachable
    except (ConfigError, ValueError, OSError) as exc:  # a secret in a config file, an unparsable one ...
        fail(f"configuration: {exc}")
        raise  # unreachable


def plain(text: object) -> str:
    """``text`` for a rich string that holds markup of ours: provider and user text (a pause reason, a
    receipt status, a campaign id, a path) is shown as it is, never read as markup (``[/]`` would crash)."""
    from rich.markup import escape

    return escape(str(text))


def fail(message: str, code: int = 2) -> None:
    """Print one error line, any phone number in it masked, and exit non-zero.

    Masked at this one exit whatever raised the error: a number may hide in a header cell or a provider text.
    """
    line = mask_numbers(" ".join(message.split()))
    errors.print(f"[bold red]error:[/] {plain(line)}", highlight=False, markup=True)
    raise typer.Exit(code)


def run(coro_fn: Callable[[], Coroutine[Any, Any, T]], *, service: bool = False) -> T:
    """Run a coroutine; DispatchErrors become one-line errors.

    A long-running ``service`` (worker, receipts, simulator) runs on uvloop when available; a command
    that makes a few calls does not pay for importing it.
    """
    from redis.exceptions import RedisError

    runner: Callable[[Awaitable[T]], T] = asyncio.run  # type: ignore[assignment]
    if service:
        with contextlib.suppress(ImportError):  # uvloop is a dependency on POSIX only
            import uvloop

            runner = uvloop.run  # type: ignore[assignment]
    try:
        return runner(coro_fn())
    except DispatchError as exc:
        fail(str(exc))
        raise  # unreachable
    except RedisError as exc:  # e.g. Redis went away in the middle of a command
        fail(f"Redis: {exc}")
        raise  # unreachable


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, for a service that runs until told to stop (call it inside the
    event loop that waits on it)."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


def campaign_redis_url() -> str:
    """The Redis of the workers, for a command that needs nothing else from the settings (pause, status).

    Taken straight from ``REDIS_URL`` / ``KOODISPATCH_REDIS_URL`` when the environment sets it (and no
    REDIS_SENTINELS, which the settings check against it), since the environment wins over every settings
    file anyway: such a command then starts without building the settings model (a third of its start-up).
    Otherwise the settings are loaded as for any command.
    """
    if not any(os.environ.get(name) for name in ("REDIS_SENTINELS", "KOODISPATCH_REDIS_SENTINELS")):
        for name in ("REDIS_URL", "KOODISPATCH_REDIS_URL"):
            if os.environ.get(name):
                return os.environ[name]
    return required_redis_url(settings())


def required_redis_url(cfg: Settings) -> str:
    """Commands that act on a long-lived campaign need a real Redis, not a throwaway private one."""
    address = cfg.redis_address
    if not address:
        fail(
            "REDIS_URL is not set: this command needs the Redis your workers use (e.g. redis://host:6379/0, "
            "or REDIS_SENTINELS=host:port,...)"
        )
    assert address is not None
    return address


@contextlib.asynccontextmanager
async def connection(url: str) -> AsyncIterator[aioredis.Redis]:
    """A plain Redis connection, closed on exit, for commands that read or change campaign state but queue
    no job (pause, cancel, status, rate, report): they start without arq. Raises ConfigError at once when
    Redis cannot be reached."""
    from redis.exceptions import RedisError

    from engine.store.sentinel import client as plain_client

    where = _redacted(url)
    try:
        client = plain_client(url, connect_timeout=5)
    except (ValueError, RuntimeError) as exc:  # not a redis://, rediss://, unix:// or redis+sentinel:// URL
        raise ConfigError(f"REDIS_URL {where}: {exc}") from None
    try:
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            raise ConfigError(f"cannot reach Redis at {where}: {exc}") from None
        yield client
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def queue(url: str) -> AsyncIterator[ArqRedis]:
    """An ArqRedis connection (commands that queue jobs), closed on exit; raises ConfigError at once when
    Redis cannot be reached or arq cannot use the URL.

    ``open_queue`` retries for half a minute, which suits workers riding out a Redis restart, not a person
    who mistyped REDIS_URL: reachability is checked first, without retries.
    """
    from engine.store.connection import check_url, open_queue

    try:
        check_url(url)  # as the workers will read it
    except (ValueError, RuntimeError) as exc:
        raise ConfigError(f"REDIS_URL {_redacted(url)}: {exc}") from None
    async with connection(url):
        pass
    redis = await open_queue(url)
    try:
        yield redis
    finally:
        await redis.aclose()


def _redacted(url: str) -> str:
    """The URL without its user, password and parameters (a Sentinel URL's carry its password)."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2], query="").geturl()


def secrets_of(cfg: Settings) -> list[str]:
    """What a service's logs must never show: the credentials, the receipt token, the Redis password."""
    values = [s.get_secret_value() for s in (cfg.ak, cfg.sk, cfg.sms_app_key, cfg.sms_app_secret)]
    if cfg.receipts_token is not None:
        values.append(cfg.receipts_token.get_secret_value())
    address = cfg.redis_address
    if address:  # a redis+sentinel:// URL carries the sentinels' password too
        parts = urlsplit(address)
        values.append(unquote(parts.password or ""))
        values += parse_qs(parts.query).get("sentinel_password", [])
    return values


def setup_logging(level: str = "INFO", log_format: str = "text", secrets: Iterable[str] = ()) -> None:
    """Log to stderr as text or one JSON object per line (``json``); either way ``secrets`` are redacted,
    numbers masked and records capped (``engine/runtime/logs.py``)."""
    from engine.runtime.logs import JsonFormatter, TextFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(secrets) if log_format == "json" else TextFormatter(secrets))
    logging.basicConfig(level=level, handlers=[handler])
