"""Hosts on one machine: Linux network namespaces joined by veth pairs on a bridge, over real TCP.

A ``Network`` is a switch (a namespace holding a bridge) and hosts (one namespace each, an address on
``SUBNET``, its cable a veth pair whose other end is a port of the bridge). Everything is created inside
namespaces named ``kdt-<pid>-…``: the machine's own namespace gains no interface, route or address, so
runs of several sessions never collide, and no packet leaves the machine. What a host runs is started with
``ip netns exec``; the test process itself joins a host with :meth:`Network.entered` (one thread at a time:
a network namespace is per thread, and sockets keep the one they were made in).

Faults: :meth:`Network.cut` unplugs a host's cable at the switch (its packets vanish: calls time out, as
on a real partition, rather than fail at once), :meth:`Network.cut_address` makes one address unreachable
from one host only (its neighbour entry points at a MAC nobody has), e.g. the provider but not Redis.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

CLONE_NEWNET: Final = 0x40000000
SUBNET: Final = "10.231.0"  # only inside our namespaces: the machine's own routes never see it
NOBODY_MAC: Final = "02:00:00:00:00:01"  # a locally administered MAC no interface has
STOP_SECONDS: Final = 15.0
_libc = ctypes.CDLL(None, use_errno=True)


def ip(*args: str) -> None:
    """Run one ``ip`` command; raise with its error output when it fails."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise OSError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def unavailable() -> str | None:
    """Why namespaces cannot be built here (not root, no iproute2, not permitted), or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    probe = f"kdt-{os.getpid()}-probe"
    try:
        ip("netns", "add", probe)
    except OSError as exc:
        return f"`ip netns add` is not permitted here: {exc}"
    ip("netns", "del", probe)
    return None


def _setns(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns {path}: {os.strerror(errno)}")
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Host:
    """One host: its namespace, its address and the switch port its cable is plugged into."""

    name: str
    address: str
    port: str

    def command(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]


@dataclass
class Network:
    """A bridge and the hosts on it; :func:`network` builds one and guarantees its removal."""

    prefix: str
    switch: str
    hosts: dict[str, Host] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def add_host(self, role: str, *extra_addresses: str) -> Host:
        """A new host named ``role``, plugged into the switch, at the next address (and ``extra_addresses``,
        host numbers on the same subnet, e.g. a second service address)."""
        number = len(self.hosts) + 1
        host = Host(f"{self.prefix}{role}", f"{SUBNET}.{number}", f"p{number}")
        ip("netns", "add", host.name)
        self.hosts[role] = host
        cable = ("type", "veth", "peer", "name", host.port, "netns", self.switch)
        ip("-n", host.name, "link", "add", "eth0", *cable)
        ip("-n", self.switch, "link", "set", host.port, "master", "br0", "up")
        for address in (host.address, *(f"{SUBNET}.{n}" for n in extra_addresses)):
            ip("-n", host.name, "addr", "add", f"{address}/24", "dev", "eth0")
        ip("-n", host.name, "link", "set", "eth0", "up")
        ip("-n", host.name, "link", "set", "lo", "up")
        return host

    def spawn(
        self, host: Host, argv: Sequence[str], env: Mapping[str, str], log: Path
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` on ``host`` (cwd and environment as given), output appended to ``log``; it is
        stopped when the network is removed, if not before."""
        with log.open("ab") as out:
            proc = subprocess.Popen(host.command(argv), env=dict(env), stdout=out, stderr=out)
        self.processes.append(proc)
        return proc

    def cut(self, host: Host) -> None:
        """Unplug ``host``'s cable at the switch: nothing it sends arrives, nothing reaches it."""
        ip("-n", self.switch, "link", "set", host.port, "down")

    def heal(self, host: Host) -> None:
        ip("-n", self.switch, "link", "set", host.port, "up")

    def cut_address(self, host: Host, address: str) -> None:
        """``host`` can no longer reach ``address`` (its packets go to a MAC nobody has); all else works."""
        nowhere = ("lladdr", NOBODY_MAC, "dev", "eth0", "nud", "permanent")
        ip("-n", host.name, "neigh", "replace", address, *nowhere)

    def heal_address(self, host: Host, address: str) -> None:
        ip("-n", host.name, "neigh", "del", address, "dev", "eth0")

    @contextlib.contextmanager
    def entered(self, host: Host) -> Iterator[None]:
        """Run this thread (and the sockets, threads and processes it makes meanwhile) on ``host``."""
        back = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            _setns(f"/var/run/netns/{host.name}")
            try:
                yield
            finally:
                _setns(f"/proc/self/fd/{back}")
        finally:
            os.close(back)

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM, then SIGKILL if it is still there after STOP_SECONDS."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def close_processes(self) -> None:
        """Stop every process started here (before what they talk to goes away)."""
        for proc in self.processes:
            self.stop(proc)

    def close(self) -> None:
        """Stop every process started here, then delete the namespaces (their interfaces go with them)."""
        self.close_processes()
        for name in [*(host.name for host in self.hosts.values()), self.switch]:
            with contextlib.suppress(OSError):
                ip("netns", "del", name)


STALE: Final = re.compile(r"kd[tb]-(\d+)-\S+")  # namespaces of this harness: tests (kdt), benchmarks (kdb)


def sweep_stale() -> list[str]:
    """Delete the namespaces a run of this harness left behind when it was killed (its pid is gone); the
    name goes, and the namespace with it once nothing runs in it. Returns the names deleted."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    swept = []
    for line in listed.splitlines():
        match = STALE.match(line)
        if match and not _alive(int(match[1])):
            with contextlib.suppress(OSError):
                ip("netns", "del", match[0])
                swept.append(match[0])
    return swept


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        pass
    return True


@contextlib.contextmanager
def network(prefix: str | None = None) -> Iterator[Network]:
    """A switch to plug hosts into; everything built is removed on exit, however the block ends (and what
    a killed earlier run left, first)."""
    sweep_stale()
    prefix = prefix or f"kdt-{os.getpid()}-"
    switch = f"{prefix}switch"
    net = Network(prefix, switch)
    try:
        ip("netns", "add", switch)
        ip("-n", switch, "link", "add", "br0", "type", "bridge")
        ip("-n", switch, "link", "set", "br0", "up")
        yield net
    finally:
        net.close()
