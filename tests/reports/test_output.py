"""Report files are private to their owner, never written through a planted symlink, never overwritten
unless ``--force`` says so: the real ``koodispatch report`` on a real file system."""

from __future__ import annotations

import stat
from pathlib import Path

from arq.connections import ArqRedis

from tests.commands import cli_env, koodispatch
from tests.failures import partial_files, read_export, typical_outcome, with_params
from tests.failures import submit_small as submit

VICTIM = "someone else's file\n"


def private_regular_file(path: Path) -> bool:
    mode = path.lstat().st_mode
    return stat.S_ISREG(mode) and stat.S_IMODE(mode) == 0o600


def victim(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    target.write_text(VICTIM, encoding="utf-8")
    return target


async def test_a_symlink_planted_at_the_partial_name_is_not_followed(
    arq_redis: ArqRedis, redis_url: str, tmp_path: Path
) -> None:
    cid = await submit(arq_redis, tmp_path)
    expected = await typical_outcome(arq_redis, cid)
    out, page = tmp_path / "f2.csv", tmp_path / "report.html"
    (tmp_path / ".f2.csv.part").symlink_to(victim(tmp_path, "victim.txt"))
    (tmp_path / ".report.html.part").symlink_to(victim(tmp_path, "victim2.txt"))

    run = await koodispatch(
        "report",
        cid,
        "--failed-out",
        str(out),
        "--html",
        str(page),
        env=cli_env(redis_url, "http://127.0.0.1:1"),
    )

    assert run.code == 0, run.err
    for name in ("victim.txt", "victim2.txt"):
        assert (tmp_path / name).read_text(encoding="utf-8") == VICTIM
    assert private_regular_file(out) and private_regular_file(page)
    assert read_export(out)[1:] == with_params(expected) and "report-data" in page.read_text(encoding="utf-8")


async def test_existing_files_are_kept_unless_forced(
    arq_redis: ArqRedis, redis_url: str, tmp_path: Path
) -> None:
    cid = await submit(arq_redis, tmp_path)
    await typical_outcome(arq_redis, cid)
    env = cli_env(redis_url, "http://127.0.0.1:1")
    out = victim(tmp_path, "failed.csv")
    page = tmp_path / "report.html"
    page.symlink_to(victim(tmp_path, "victim.txt"))

    for target, args in ((out, ["--failed-out", str(out)]), (page, ["--html", str(page)])):
        refused = await koodispatch("report", cid, *args, env=env)
        assert refused.code == 2 and refused.out == ""
        [line] = refused.err.splitlines()
        assert line.startswith("error: ") and target.name in line and "--force" in line
    assert out.read_text(encoding="utf-8") == VICTIM and page.is_symlink()

    forced = await koodispatch(
        "report", cid, "--failed-out", str(out), "--html", str(page), "--force", env=env
    )

    assert forced.code == 0, forced.err
    assert private_regular_file(out) and private_regular_file(page)  # the link itself was replaced
    assert (tmp_path / "victim.txt").read_text(encoding="utf-8") == VICTIM
    assert partial_files(tmp_path) == []
