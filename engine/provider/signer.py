"""SDK-HMAC-SHA256 request signing and verification, byte-compatible with Huawei's official SDK signer.

The same functions sign our client's requests and verify them (and the official SDK's) in the simulator,
so a divergence from the SDK shows up as a 401 in tests rather than in production.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
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
# Not the SDK's: a random value our clients sign with every call, so that the same call sent twice in one
# X-Sdk-Date second (a retry, a query repeated) does not carry a signature a verifier refuses as replayed.
HEADER_NONCE = "X-Koodispatch-Nonce"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_HASH = hashlib.sha256(b"").hexdigest()
MAX_CLOCK_SKEW = timedelta(minutes=15)
# A second copy of these has no effect of its own, and HTTP clients resend them verbatim when a kept-alive
# connection drops before the answer (aiohttp does): a verifier's replay cache leaves them alone.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


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
    """The body's part of the canonical request: the SDK's, for every request the SDK signs.

    An empty body hashes as empty (even when declared unsigned), a body declared ``UNSIGNED-PAYLOAD`` (the
    SDK's form posts) is not hashed, any other body by its content: a hash the request merely declares in
    X-Sdk-Content-Sha256 is never taken on trust, since a sender could pair it with another body.
    """
    if not body:
        return EMPTY_HASH
    if _get(headers, HEADER_CONTENT_SHA) == UNSIGNED_PAYLOAD:
        return UNSIGNED_PAYLOAD
    return hashlib.sha256(body).hexdigest()


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


class ReplayCache:
    """Signatures already accepted, kept while a copy of their request would still be fresh.

    A signed request stays valid for the allowed clock skew after its ``X-Sdk-Date``: whoever captures one
    (a proxy's log, a mirrored port) could send it again in that window. A verifier (the simulator, the
    receipts service) keeps one per process and refuses a signature it accepted before; memory is bounded
    by the requests of one validity window.
    """

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._expiry: list[tuple[float, str]] = []  # a heap: the next key to forget first

    def __len__(self) -> int:
        return len(self._seen)

    def admit(self, key: str, until: float, now: float) -> bool:
        """Remember ``key`` until ``until`` (epoch seconds); False when it is remembered already."""
        while self._expiry and self._expiry[0][0] < now:
            self._seen.discard(heapq.heappop(self._expiry)[1])
        if key in self._seen:
            return False
        self._seen.add(key)
        heapq.heappush(self._expiry, (until, key))
        return True


def _check_signed_headers(auth: Authorization, headers: Mapping[str, str]) -> None:
    """Host and a declared body hash must be signed: unsigned, they could be swapped for others."""
    signed = set(auth.signed_headers)
    if "host" not in signed:
        raise SignatureError("SignedHeaders must include host")
    if _get(headers, HEADER_CONTENT_SHA) is not None and HEADER_CONTENT_SHA.lower() not in signed:
        raise SignatureError(f"SignedHeaders must include {HEADER_CONTENT_SHA.lower()} when it is sent")


def _replay_key(signature: str, body: bytes, headers: Mapping[str, str]) -> str:
    """The signature, and for an UNSIGNED-PAYLOAD body its hash too: the SDK's form posts (and the SMS
    platform's pushes) signed in the same second with the same headers share a signature, and each is
    new; a second copy of one of them is not."""
    if body and _get(headers, HEADER_CONTENT_SHA) == UNSIGNED_PAYLOAD:
        return f"{signature}:{hashlib.sha256(body).hexdigest()}"
    return signature


def verify(
    secrets: Mapping[str, str],
    method: str,
    path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime | None = None,
    max_skew: timedelta = MAX_CLOCK_SKEW,
    replays: ReplayCache | None = None,
) -> str:
    """Check a received request's signature; return the access key that signed it.

    ``secrets`` maps access keys to secrets; ``replays`` (when given) remembers the accepted signatures of
    requests that change something (not ``IDEMPOTENT_METHODS``) for the rest of their validity window.
    Raises SignatureError naming what is wrong: unknown key, stale or missing date, host or a declared body
    hash left unsigned, a signature mismatch (tampered body, query or signed header) or a signature already
    accepted once.
    """
    auth = parse_authorization(_get(headers, "Authorization"))
    secret = secrets.get(auth.access)
    if secret is None:
        raise SignatureError("unknown access key")
    _check_signed_headers(auth, headers)
    date = _get(headers, HEADER_DATE)
    if not date:
        raise SignatureError("missing X-Sdk-Date")
    stamp, current = _parse_date(date), now or datetime.now(UTC)
    if abs(current - stamp) > max_skew:
        raise SignatureError("request date outside the allowed clock skew")
    pairs = parse_qsl(raw_query, keep_blank_values=True)
    expected = _hmac_hex(
        secret, string_to_sign(method, path, pairs, headers, auth.signed_headers, body, date)
    )
    if not hmac.compare_digest(expected, auth.signature):
        raise SignatureError("signature does not match")
    if replays is not None and method.upper() not in IDEMPOTENT_METHODS:
        key, until = _replay_key(auth.signature, body, headers), (stamp + max_skew).timestamp()
        if not replays.admit(key, until, current.timestamp()):
            raise SignatureError("signature already used: a replayed request")
    return auth.access
