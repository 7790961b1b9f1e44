"""``koodispatch tokens create | list | revoke``: the token works against the API once, then not at all."""

from __future__ import annotations

from engine.simulator.testing import SimulatorThread
from tests.commands import cli_env, koodispatch
from tests.service.conftest import Api


async def test_a_token_made_on_the_command_line_works_until_revoked(
    api: Api, redis_url: str, sim: SimulatorThread
) -> None:
    env = cli_env(redis_url, sim.url)
    made = await koodispatch("tokens", "create", "night shift", "--role", "operator", env=env)
    assert made.code == 0, made.err
    token = made.out.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    assert (await api.call("POST", "/campaigns/none/pause", role=None, headers=headers))[0] == 404  # allowed
    assert (await api.call("GET", "/tokens", role=None, headers=headers))[0] == 403
    listed = await koodispatch("tokens", "list", env=env)
    line = next(line for line in listed.out.splitlines() if line.endswith("night shift"))
    assert token not in listed.out and " operator " in line
    gone = await koodispatch("tokens", "revoke", line.split()[0], env=env)
    assert gone.code == 0, gone.err
    assert (await api.call("GET", "/campaigns", role=None, headers=headers))[0] == 401
    bad = await koodispatch("tokens", "create", "x", "--role", "root", env=env)
    assert bad.code == 2 and "role 'root'" in bad.err
