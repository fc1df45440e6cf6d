"""Another host for fault tests: a network namespace with its own address, linked to this one by
a veth pair, that a test can cut off and reconnect. Only the test's own addresses are used
(10.231.x.1 here, 10.231.x.2 there); nothing outside this machine is reached.

Needs root (or CAP_NET_ADMIN) and `ip`; `FarHost.make` raises NoNamespace saying why otherwise.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess


class NoNamespace(RuntimeError):
    """Namespaces or veth links cannot be made here (the reason is the message)."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and r.returncode:
        raise NoNamespace(f"ip {' '.join(args)}: {r.stderr.strip() or r.returncode}")
    return r


class FarHost:
    """`here` is this side's address, `there` the namespace's; `wrap` runs a command there."""

    def __init__(self, tag: str, subnet: int) -> None:
        self.ns = f"podium-far-{tag}"
        self.link_here, self.link_there = f"pdh{tag}", f"pdf{tag}"
        self.here, self.there = f"10.231.{subnet}.1", f"10.231.{subnet}.2"
        self.wrap = ["ip", "netns", "exec", self.ns]

    @classmethod
    def make(cls) -> FarHost:
        if not shutil.which("ip"):
            raise NoNamespace("the `ip` command (iproute2) is not installed")
        host = cls(f"{os.getpid() % 10000}{random.randrange(100)}", random.randrange(1, 255))
        try:
            _ip("netns", "add", host.ns)
            _ip("link", "add", host.link_here, "type", "veth", "peer", "name", host.link_there)
            _ip("link", "set", host.link_there, "netns", host.ns)
            _ip("addr", "add", f"{host.here}/30", "dev", host.link_here)
            _ip("link", "set", host.link_here, "up")
            there = ["netns", "exec", host.ns, "ip"]
            _ip(*there, "addr", "add", f"{host.there}/30", "dev", host.link_there)
            _ip(*there, "link", "set", host.link_there, "up")
            _ip(*there, "link", "set", "lo", "up")
        except NoNamespace:
            host.remove()
            raise
        return host

    def cut(self) -> None:
        """Packets between the hosts are dropped from now on (no reset: connections hang)."""
        _ip("link", "set", self.link_here, "down")

    def reconnect(self) -> None:
        _ip("link", "set", self.link_here, "up")

    def remove(self) -> None:
        _ip("link", "del", self.link_here, check=False)
        _ip("netns", "del", self.ns, check=False)
