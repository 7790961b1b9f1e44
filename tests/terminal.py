"""The real ``koodispatch`` on a pseudo-terminal: what a person at a terminal sees, and answers typed in."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator, Mapping
from fcntl import ioctl

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def _interruptible() -> None:
    """Ctrl-C as at a terminal: a test runner started in the background may pass SIGINT on ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Terminal:
    """``python -m engine.cli ARGS`` with a pseudo-terminal of ``columns`` as its stdin, stdout and stderr."""

    def __init__(self, *args: str, env: Mapping[str, str], columns: int = 80) -> None:
        self._master, slave = pty.openpty()
        ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        # PYTHONFAULTHANDLER: a run that hangs prints every thread's stack when ``wait`` gives up on it
        environment = {**env, "COLUMNS": str(columns), "TERM": "xterm", "PYTHONFAULTHANDLER": "1"}
        environment.pop("FORCE_COLOR", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=environment,
            start_new_session=True,
            preexec_fn=_interruptible,
        )
        os.close(slave)
        self.raw = b""

    def _read(self, timeout: float) -> bool:
        """Read what is there within ``timeout`` seconds; False at the end of the output."""
        readable, _, _ = select.select([self._master], [], [], timeout)
        if not readable:
            return True
        try:
            chunk = os.read(self._master, 65536)
        except OSError:  # EIO: the process closed the terminal
            return False
        self.raw += chunk
        return bool(chunk)

    @property
    def text(self) -> str:
        """Everything shown so far, escape sequences and carriage returns removed."""
        return ANSI.sub("", self.raw.decode(errors="replace"))

    @property
    def segments(self) -> list[str]:
        """What was written between line ends and cursor moves: each is at most one screen row."""
        return [part for part in ANSI.split(self.raw.decode(errors="replace").replace("\n", "\r")) if part]

    def expect(self, pattern: str, max_wait: float = 120) -> str:
        """Wait until the output matches ``pattern``; fail with the output so far when it does not."""
        deadline = time.monotonic() + max_wait
        while not re.search(pattern, self.text):
            if time.monotonic() > deadline or not self._read(0.2):
                raise AssertionError(f"{pattern!r} never appeared in:\n{self.text}")
        return self.text

    def type(self, text: str) -> None:
        os.write(self._master, text.encode())

    def wait(self, max_wait: float = 180) -> int:
        """Read to the end and return the exit code; fail with the output, the processes still holding the
        terminal and the command's thread stacks when the output has not ended after ``max_wait`` seconds."""
        deadline = time.monotonic() + max_wait
        while self._read(0.2):
            if time.monotonic() > deadline:
                self._hung(max_wait)
        return self.proc.wait(timeout=max_wait)

    def _hung(self, max_wait: float) -> None:
        listing = ["ps", "-ww", "-eo", "pid,ppid,stat,etime,args"]
        processes = subprocess.run(listing, capture_output=True, text=True)
        ours = [
            line for line in processes.stdout.splitlines() if "engine.cli" in line or "redis-server" in line
        ]
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGABRT)  # faulthandler writes every thread's stack to the terminal
        until = time.monotonic() + 5  # a child that kept the terminal open may never let it end
        while self._read(0.2) and time.monotonic() < until:
            pass
        shown = "\n".join(ours)
        raise AssertionError(
            f"the terminal's output did not end within {max_wait:g} s (exit code {self.proc.poll()}); "
            f"processes:\n{shown}\noutput:\n{self.text}"
        )

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self._master)


@contextlib.contextmanager
def terminal(*args: str, env: Mapping[str, str], columns: int = 80) -> Iterator[Terminal]:
    """A ``Terminal`` that is closed (its process killed if still running) on exit."""
    term = Terminal(*args, env=env, columns=columns)
    try:
        yield term
    finally:
        term.close()
