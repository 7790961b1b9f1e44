"""SDK-HMAC-SHA256 request signing and verification, byte-compatible with Huawei's official SDK signer.

The same functions sign our client's requests and verify them (and the official SDK's) in the simulator,
so a divergence from the SDK shows up as a 401 in tests rather than in production.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote, unquote

from engine.errors import SignatureError

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
HEADER_DATE = "X-Sdk-Date"
HEADER_CONTENT_SHA = "X-Sdk-Content-Sha256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_HASH = hashlib.sha256(b"").hexdigest()
MAX_CLOCK_SKEW = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Credentials:
    """An access key / secret pair: AK/SK for KooMessage, app key / app secret for the SMS send API."""

    access: str
    secret: str

    def __repr__(self) -> str:  # never leak the secret through logs or tracebacks
        return f"Credentials(access={self.access!r}, secret='***')"


def _encode(value: str) -> str:
    return quote(value, safe="~")


def canonical_uri(path: str) -> str:
    """Percent-encode each path segment and always end with '/', as the SDK does."""
    uri = "/".join(_encode(seg) for seg in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """Sorted ``k=v`` pairs, both encoded; this is also the query string the client must send."""
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(pairs))


def query_pairs(params: Mapping[str, object]) -> list[tuple[str, str]]:
    """Flatten query parameters the way the SDK does: lists repeat the key, bools are lower-case."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            text = str(item).lower() if isinstance(item, bool) else str(item)
            pairs.append((key, text))
    return pairs


def payload_hash(body: bytes, headers: Mapping[str, str]) -> str:
    """The SDK hashes an empty body as empty even when the payload is declared unsigned."""
    if not body:
        return EMPTY_HASH
    declared = _get(headers, HEADER_CONTENT_SHA)
    return declared if declared else hashlib.sha256(body).hexdigest()


def _get(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def string_to_sign(
    method: str,
    path: str,
    pairs: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    signed: list[str],
    body: bytes,
    date: str,
) -> str:
    """Build the canonical request and the string the HMAC covers."""
    lowered = {k.lower(): str(v).strip() for k, v in headers.items()}
    missing = [name for name in signed if name not in lowered]
    if missing:
        raise SignatureError(f"signed header(s) missing from request: {', '.join(missing)}")
    canonical_headers = "".join(f"{name}:{lowered[name]}\n" for name in signed)
    creq = "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(pairs),
            canonical_headers,
            ";".join(signed),
            payload_hash(body, headers),
        ]
    )
    return f"{ALGORITHM}\n{date}\n{hashlib.sha256(creq.encode()).hexdigest()}"


def _hmac_hex(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def sign(
    creds: Credentials,
    method: str,
    host: str,
    path: str,
    pairs: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    now: datetime | None = None,
) -> dict[str, str]:
    """Return ``headers`` plus Host, X-Sdk-Date, (UNSIGNED-PAYLOAD) and Authorization.

    Every header passed in is signed, as the SDK signs every header it sets itself; send exactly these
    headers and the query string ``canonical_query(pairs)``.
    """
    out = dict(headers)
    content_type = _get(out, "Content-Type") or ""
    if content_type and not content_type.startswith(("application/json", "application/bson")):
        out[HEADER_CONTENT_SHA] = UNSIGNED_PAYLOAD
    date = (now or datetime.now(UTC)).strftime(DATE_FORMAT)
    out[HEADER_DATE] = date
    if _get(out, "Host") is None:
        out["Host"] = host
    signed = sorted(k.lower() for k in out if "_" not in k)
    sts = string_to_sign(method, path, pairs, out, signed, body, date)
    out["Authorization"] = (
        f"{ALGORITHM} Access={creds.access}, SignedHeaders={';'.join(signed)}, "
        f"Signature={_hmac_hex(creds.secret, sts)}"
    )
    return out


@dataclass(frozen=True, slots=True)
class Authorization:
    """The parsed ``Authorization: SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...`` header."""

    access: str
    signed_headers: list[str]
    signature: str


def parse_authorization(value: str | None) -> Authorization:
    """Parse the header; raise SignatureError when it is absent or not SDK-HMAC-SHA256."""
    if not value or not value.startswith(ALGORITHM + " "):
        raise SignatureError("missing or unsupported Authorization header")
    fields: dict[str, str] = {}
    for part in value[len(ALGORITHM) + 1 :].split(","):
        key, sep, val = part.strip().partition("=")
        if sep:
            fields[key] = val
    try:
        return Authorization(fields["Access"], fields["SignedHeaders"].split(";"), fields["Signature"])
    except KeyError as exc:
        raise SignatureError(f"Authorization lacks {exc.args[0]}") from None


@functools.lru_cache(maxsize=64)
def _parse_date(date: str) -> datetime:
    """X-Sdk-Date as a time; cached, since every request of the same second carries the same value
    (strptime was a tenth of the verification's cost)."""
    try:
        return datetime.strptime(date, DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise SignatureError("malformed X-Sdk-Date") from None


def verify(
    secrets: Mapping[str, str],
    method: str,
    path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime | None = None,
    max_skew: timedelta = MAX_CLOCK_SKEW,
) -> str:
    """Check a received request's signature; return the access key that signed it.

    ``secrets`` maps access keys to secrets. Raises SignatureError naming what is wrong: unknown key,
    stale or missing date, or a signature mismatch (tampered body, query or signed header).
    """
    auth = parse_authorization(_get(headers, "Authorization"))
    secret = secrets.get(auth.access)
    if secret is None:
        raise SignatureError("unknown access key")
    date = _get(headers, HEADER_DATE)
    if not date:
        raise SignatureError("missing X-Sdk-Date")
    stamp = _parse_date(date)
    if abs((now or datetime.now(UTC)) - stamp) > max_skew:
        raise SignatureError("request date outside the allowed clock skew")
    pairs = parse_qsl(raw_query, keep_blank_values=True)
    expected = _hmac_hex(
        secret, string_to_sign(method, path, pairs, headers, auth.signed_headers, body, date)
    )
    if not hmac.compare_digest(expected, auth.signature):
        raise SignatureError("signature does not match")
    return auth.access
