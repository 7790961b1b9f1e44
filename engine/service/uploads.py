"""A campaign upload (multipart/form-data): the spec as JSON or TOML, the recipient file streamed to disk.

The file never sits in memory whole: it goes to a private temporary file under the size cap, hashed as it
arrives, and is removed once the planner has frozen its numbers in Redis. Paths in a spec would be paths
on this server: ``recipients.file`` is replaced by the upload, ``recipients.suppression_file`` refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
import tomllib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson
from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.helpers import parse_mimetype
from pydantic import BaseModel, Field

from engine.errors import ConfigError, InputError
from engine.ingest.spec import CampaignSpec
from engine.service.context import Limits
from engine.service.problems import HttpProblem

MAX_SPEC_BYTES: Final = 256 * 1024
SUFFIXES: Final = (".csv", ".txt", ".xlsx")
CHUNK: Final = 256 * 1024


class CampaignForm(BaseModel):
    """The parts of a campaign upload."""

    spec: str = Field(description="the campaign spec, as JSON (an object) or TOML (a campaign file)")
    recipients: bytes = Field(description="the recipient file: .csv, .txt or .xlsx (by its file name)")
    preflight: bool = Field(True, description="check templates and ports with the provider first")
    check_capability: bool = Field(False, description="(plan only) ask the provider about uncached numbers")


@dataclass(frozen=True, slots=True)
class Upload:
    """A read upload: the validated spec, the file on disk, the other fields, and a digest of it all."""

    spec: CampaignSpec
    recipients: Path
    flags: dict[str, bool]
    digest: str


@contextlib.asynccontextmanager
async def read_upload(request: web.Request, limits: Limits) -> AsyncIterator[Upload]:
    """Read the upload of ``request``; the recipient file is removed when the block exits.

    Raises HttpProblem 415 (not multipart), 413 (a part over its cap), 422 (a missing part, a file of
    another kind) and ConfigError (an invalid spec, naming the field) before anything is submitted.
    """
    parts = await multipart(request, "spec, recipients")
    with tempfile.TemporaryDirectory(dir=limits.upload_dir) as work:
        spec_text, path, flags, names, sha = None, None, {}, {}, hashlib.sha256()
        async for part in parts:
            if not isinstance(part, BodyPartReader):
                raise HttpProblem(422, "nested multipart parts are not accepted")
            if part.name == "spec":
                spec_text = await _small(part, MAX_SPEC_BYTES)
            elif part.name == "recipients":
                path = await _save(part, Path(work), limits.max_upload_bytes, sha)
                names["recipients"] = Path(part.filename or "").name
            elif part.name in ("preflight", "check_capability"):
                flags[part.name] = _flag(part.name, await _small(part, 16))
            else:
                raise HttpProblem(422, f"unknown part {part.name!r}: expected spec, recipients, preflight")
        if spec_text is None or path is None:
            raise HttpProblem(422, "a campaign needs two parts: spec and recipients")
        spec = parse_spec(spec_text)
        sha.update(spec.model_dump_json().encode())
        with _named(path, names.get("recipients", path.name)):
            yield Upload(spec, path, flags, sha.hexdigest())


async def multipart(request: web.Request, parts: str) -> MultipartReader:
    """The parts of a multipart/form-data request; HttpProblem 415 for another body (or no boundary)."""
    if (
        request.content_type != "multipart/form-data"
        or "boundary" not in parse_mimetype(request.headers.get("Content-Type", "")).parameters
    ):
        raise HttpProblem(415, f"send multipart/form-data with the parts {parts}")
    return await request.multipart()


@contextlib.contextmanager
def _named(path: Path, name: str) -> Iterator[None]:
    """Errors about the saved file name it as the client did, never by its path on this server."""
    try:
        yield
    except (ConfigError, InputError) as exc:
        raise type(exc)(str(exc).replace(str(path), name)) from None


def parse_spec(text: str) -> CampaignSpec:
    """A spec from JSON (when it opens with ``{``) or TOML; raises ConfigError naming the field at fault."""
    data: Any
    try:
        data = orjson.loads(text) if text.lstrip().startswith("{") else tomllib.loads(text)
    except (orjson.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"spec: neither a JSON object nor TOML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError("spec: expected an object")
    spec = CampaignSpec.model_validate(data, context={"source": "spec"})
    if spec.recipients.suppression_file is not None:
        raise ConfigError(
            "spec: recipients.suppression_file: a path on this server; use /suppression instead"
        )
    # the uploaded file is the recipient list: a path the spec names is never read here
    return spec.model_copy(update={"recipients": spec.recipients.model_copy(update={"file": None})})


async def _small(part: BodyPartReader, cap: int) -> str:
    raw = b""
    while chunk := await part.read_chunk(CHUNK):
        raw += chunk
        if len(raw) > cap:
            raise HttpProblem(413, f"part {part.name!r}: at most {cap} bytes")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HttpProblem(422, f"part {part.name!r}: not UTF-8 text") from None


def _flag(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false", "1", "0"):
        raise HttpProblem(422, f"part {name!r}: expected true or false")
    return value in ("true", "1")


async def _save(part: BodyPartReader, work: Path, cap: int, sha: Any) -> Path:
    """Save the recipient file under ``work``; its name keeps only its suffix."""
    suffix = Path(part.filename or "").suffix.lower()
    if suffix not in SUFFIXES:
        raise HttpProblem(
            422, f"recipients: a {', '.join(SUFFIXES)} file, named so (got {suffix or 'none'!r})"
        )
    path = work / f"recipients{suffix}"
    await stream_to(part, path, cap, sha)
    return path


async def stream_to(part: BodyPartReader, path: Path, cap: int, sha: Any = None) -> None:
    """Stream a file part to a new private file at ``path``, hashing it into ``sha`` when given; raises
    HttpProblem 413 past ``cap`` bytes."""
    size = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := await part.read_chunk(CHUNK):
            size += len(chunk)
            if size > cap:
                raise HttpProblem(413, f"{part.name}: the file is over the cap of {cap} bytes")
            if sha is not None:
                sha.update(chunk)
            await asyncio.to_thread(out.write, chunk)  # a disk write may stall the loop
