"""Modules a dependency imports but we never use load on first use (engine/runtime/deferred_import.py)."""

from __future__ import annotations

import os
import subprocess
import sys


def _run(code: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args, "-c", code] if code else [sys.executable, *args],
        capture_output=True,
        text=True,
        env=env,
    )


def test_a_deferred_module_loads_in_full_on_its_first_attribute_and_is_then_the_real_module() -> None:
    probe = (
        "import sys; from engine.runtime.deferred_import import defer_imports\n"
        "defer_imports(('colorsys', 'no_such_module_here'))\n"
        "import colorsys\n"
        "print(type(sys.modules['colorsys']).__name__)\n"
        "print(colorsys.rgb_to_hsv(1.0, 0.0, 0.0))\n"
        "real = sys.modules['colorsys']\n"
        "print(type(real).__name__, real.hls_to_rgb is colorsys.hls_to_rgb)\n"
        "try:\n    import no_such_module_here\nexcept ImportError:\n    print('missing stays missing')\n"
    )
    result = _run(probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "_StandIn",
        "(0.0, 1.0, 1.0)",
        "module True",
        "missing stays missing",
    ]


def test_a_redis_command_does_not_load_token_auth_or_pydantic(redis_url: str) -> None:
    """``koodispatch pause`` imports redis-py, whose token auth pulls PyJWT and cryptography (~40 ms), and
    typer, whose releases from 0.29 build a pydantic adapter per option (~60 ms): neither is paid."""
    env = {**os.environ, "REDIS_URL": redis_url}
    result = _run("", "-X", "importtime", "-m", "engine.cli", "pause", "no-such-campaign", env=env)
    assert "unknown campaign" in result.stderr, result.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "redis.asyncio.client" in imported  # the command did reach Redis' client
    # redis.utils' bare `import cryptography` (0.3 ms) is allowed: only what token auth pulls in is not
    heavy = {"jwt.api_jwt", "cryptography.x509", "pydantic"}
    assert not heavy & imported, heavy & imported
