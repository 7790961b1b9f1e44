"""The client's guards and the simulator's contract agree value by value; the simulator imports no guard."""

from __future__ import annotations

import ast
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import SecretStr

import engine.simulator
from engine.provider import bodies, codes, limits
from engine.runtime.settings import Settings
from engine.simulator import SimConfig, contract


def _constants(module: ModuleType) -> dict[str, object]:
    """The module's upper-case names: its statement of limits and codes."""
    return {name: value for name, value in vars(module).items() if name.isupper()}


CLIENT = _constants(limits)
SIMULATOR = _constants(contract)
# simulator name -> the client's value, where the client keeps it outside limits or under another name
MAPPED: dict[str, object] = {
    "RESULT_OK": bodies.RESOLVE_OK,
    "TASK_SUCCESS": codes.TASK_SUCCESS,
    "TASK_FAILED": codes.TASK_FAILED,
}
# names on one side only, each with why: a constant renamed on one side fails here instead of going unjudged
CLIENT_ONLY: dict[str, str] = {
    "SIGNATURE_LEN": "a campaign-spec check (console limit); the simulator does not check signature lengths",
    "KM_SIGN_LENGTH": "documented (§6), but the simulator never answers it and the client maps it to nothing",
    "SMS_LINK_VARIABLE": "not in the contract; the simulator's demo templates carry it as data",
}
SIMULATOR_ONLY: dict[str, str] = {
    "CAPABILITY_MOBILE_MAX": "ours; the client sends normalised 11-digit numbers",
    "GROUP_RESOLVING_TIMES": "the client creates no group links",
    "DOMAIN_MAX": "the client does not guard the custom domain; the simulator's 400 does",
    "CALLBACK_REMARK_MAX": "ours; the client does not guard the callback remark",
    "VMS_EXPIRATION_DEFAULT_HOURS": "the client always sends expiration_time",
    "PAGE_LIMIT_DEFAULT": "the client always sends limit",
    "BASIC_RET_OK": "the client accepts it through CALL_OK (checked below)",
}
SHARED = sorted(CLIENT.keys() & SIMULATOR.keys())
PAIRS = {name: (CLIENT[name], SIMULATOR[name]) for name in SHARED} | {
    name: (client, SIMULATOR[name]) for name, client in MAPPED.items()
}
# the per-request maxima the design shapes every call by (design.md, contract §3.2, §3.4, §3.5, §3.6, §7)
PER_REQUEST_MAXIMA = {
    "CAPABILITY_MAX_MOBILES": 100,
    "SMART_SEND_MAX_PARAMS": 100,
    "KM_SMS_MAX_TO": 500,
    "SMSAPI_MAX_TO": 500,
    "BASIC_MAX_MOBILES": 5000,
}
# what the simulator may import of engine: itself, the signature algorithm and the one exception tree
ALLOWED_IMPORTS = ("engine.simulator", "engine.provider.signer", "engine.errors")


@pytest.mark.parametrize("name", list(PAIRS))
def test_client_guard_equals_simulator_limit(name: str) -> None:
    """A wrong value on either side fails here, instead of client and simulator agreeing on it."""
    client, simulator = PAIRS[name]
    assert client == simulator, f"{name}: client {client!r}, simulator {simulator!r}"


def test_every_name_is_shared_mapped_or_one_sided_on_purpose() -> None:
    """A new or renamed constant must be compared (shared or MAPPED) or listed with its reason."""
    assert CLIENT.keys() - SIMULATOR.keys() == CLIENT_ONLY.keys()
    assert SIMULATOR.keys() - CLIENT.keys() == SIMULATOR_ONLY.keys() | MAPPED.keys()


def test_shared_names_cover_the_per_request_maxima() -> None:
    assert SHARED
    assert {name: PAIRS[name][1] for name in PER_REQUEST_MAXIMA if name in SHARED} == PER_REQUEST_MAXIMA


def test_shared_names_cover_every_code_the_client_maps() -> None:
    """The codes the client turns into error classes and outcome reasons are judged by the test above."""
    mapped = {
        code for code in codes.CALL_ERRORS.keys() | codes.REASONS.keys() if code.startswith(("KM.", "APIGW."))
    }
    judged = {CLIENT[name] for name in SHARED}
    assert mapped
    assert mapped <= judged, sorted(mapped - judged)


def test_client_takes_the_simulators_success_answers_as_success() -> None:
    """Otherwise the client would count accepted calls as failed, and resend them."""
    assert {contract.TASK_SUCCESS, contract.SMS_OK, contract.BASIC_RET_OK} <= codes.CALL_OK


@pytest.mark.parametrize("field", ["ak", "sk", "project_id", "sms_app_key", "sms_app_secret"])
def test_simulator_demo_credentials_are_the_engine_defaults(
    field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An engine left at its default settings must sign requests the default simulator accepts."""
    monkeypatch.delenv(f"KOODISPATCH_{field.upper()}", raising=False)
    default = Settings.model_fields[field].default
    engine_value = default.get_secret_value() if isinstance(default, SecretStr) else default
    assert getattr(SimConfig(), field) == engine_value


def _engine_imports(root: Path, path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import from ``engine`` in one source file, nested and relative ones included.

    ``from X import y`` counts as ``X.y``: y may be a submodule, and a plain name of X lies within X anyway.
    """
    package = ["engine", "simulator", *path.relative_to(root).parent.parts]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) + 1 - node.level] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name == "engine" or name.startswith("engine.")]


def _allowed(name: str) -> bool:
    return any(name == allowed or name.startswith(f"{allowed}.") for allowed in ALLOWED_IMPORTS)


def test_simulator_imports_only_the_signer_and_the_error_tree() -> None:
    root = Path(engine.simulator.__file__).parent
    offending = [
        f"{path.relative_to(root)}:{line} {name}"
        for path in sorted(root.rglob("*.py"))
        for line, name in _engine_imports(root, path)
        if not _allowed(name)
    ]
    assert not offending, offending
