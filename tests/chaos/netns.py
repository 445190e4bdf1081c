"""A multi-host fault harness: simulated hosts as Linux network namespaces on one bridge, a
private Postgres listening on the bridge, and `dbos-workers start` in each namespace.

    root namespace:  bridge dbw<tag>br 10.R.S.1/24  <- Postgres listens here (private cluster)
                       |- veth -> netns dbw<tag>h0 (10.R.S.10)  dbos-workers start ... host h0
                       |- veth -> netns dbw<tag>h1 (10.R.S.11)  ...

A *silent* partition drops every packet of one host inside its namespace (an nftables table
with input and output policy drop; no RST, no ICMP), so both ends only learn from timeouts;
without nft the host's bridge port is taken down (packets are dropped the same way). Heal
deletes the table. Process ids are shared with the root namespace (only the network is
separate), so the test kills a host's processes by pid.

Everything is created under a random tag and removed on close(), which the fixtures call even
when the test fails. `probe()` says why this kernel/sandbox cannot run it (the only skip).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.acceptance.apps.harness import base_env, cli_command, pid_alive

APP = Path(__file__).resolve().parent / "apps" / "host_app.py"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
NFT_RULES = """table inet dbw_chaos {
  chain in { type filter hook input priority -300; policy drop; iifname "lo" accept; }
  chain out { type filter hook output priority -300; policy drop; oifname "lo" accept; }
}
"""


def sh(*argv: str, check: bool = True, inp: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=check, capture_output=True, text=True, input=inp, timeout=60)


def probe() -> str | None:
    """None when namespaces, veth and a bridge can be made here; else the reason."""
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_NET_ADMIN, CAP_SYS_ADMIN)"
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed"
    if not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None:
        return f"no Postgres binaries at {PG_BIN} (or no runuser) for the harness's private cluster"
    name = f"dbwprobe{uuid.uuid4().hex[:4]}"
    try:
        made = sh("ip", "netns", "add", name, check=False)
        if made.returncode != 0:
            return f"the kernel refuses network namespaces: {made.stderr.strip()}"
        veth = sh("ip", "link", "add", f"{name}a", "type", "veth", "peer", "name", f"{name}b", check=False)
        if veth.returncode != 0:
            return f"the kernel refuses veth pairs: {veth.stderr.strip()}"
        bridge = sh("ip", "link", "add", f"{name}r", "type", "bridge", check=False)
        if bridge.returncode != 0:
            return f"the kernel refuses bridges: {bridge.stderr.strip()}"
        return None
    finally:
        sh("ip", "link", "del", f"{name}a", check=False)
        sh("ip", "link", "del", f"{name}r", check=False)
        sh("ip", "netns", "del", name, check=False)


class Postgres:
    """A private cluster (initdb as the `postgres` user) listening on the bridge address only,
    with server-side keepalives so a partitioned client's backend (and its advisory locks)
    goes away in seconds too."""

    def __init__(self, base: Path, address: str, port: int) -> None:
        self.home = base / "pg"  # owned by the postgres user: data dir and server log
        self.data, self.address, self.port = self.home / "data", address, port
        self.logfile = self.home / "postgres.log"
        self.url = f"postgresql://postgres@{address}:{port}/chaos"

    def _as_postgres(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return sh("runuser", "-u", "postgres", "--", *argv)

    def init(self) -> None:
        self.home.mkdir(mode=0o755)
        shutil.chown(self.home, "postgres", "postgres")
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                          "-E", "UTF8", "--no-sync")
        conf = (f"listen_addresses = '{self.address}'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.data}'\nmax_connections = 300\nfsync = off\n"
                "full_page_writes = off\ntcp_keepalives_idle = 5\ntcp_keepalives_interval = 2\n"
                "tcp_keepalives_count = 3\ntcp_user_timeout = 10000\n")
        with (self.data / "postgresql.conf").open("a") as f:
            f.write(conf)
        with (self.data / "pg_hba.conf").open("a") as f:
            subnet = f"{self.address.rsplit('.', 1)[0]}.0/24"
            f.write(f"host all all {subnet} trust\nhost replication all {subnet} trust\n")
        self.start()
        self._as_postgres(str(PG_BIN / "createdb"), "-h", str(self.data), "-p", str(self.port), "chaos")

    def start(self) -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.logfile), "-w",
                          "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        sh("runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode,
           "-w", "stop", check=False)

    def restart(self, mode: str = "immediate") -> None:
        self.stop(mode)
        self.start()


@dataclass
class SimHost:
    """One namespace and the `dbos-workers start` tree running in it."""

    name: str
    netns: str
    address: str
    root_port: str
    logs: Path
    popen: subprocess.Popen[bytes] | None = None
    partitioned: bool = False
    pids_seen: set[int] = field(default_factory=set)

    @property
    def stderr_path(self) -> Path:
        return self.logs / f"{self.name}.err"

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the whole tree (its own session: the process group is the main pid)."""
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)


class Fabric:
    """The bridge, the namespaces, the private Postgres and the host processes."""

    def __init__(self, base: Path, hosts: int, *, lease_sec: float = 2.0, step_sec: float = 0.5) -> None:
        self.tag = uuid.uuid4().hex[:4]
        self.base, self.lease_sec, self.step_sec = base, lease_sec, step_sec
        self.subnet = f"10.{random.randint(100, 250)}.{random.randint(0, 250)}"
        self.bridge = f"dbw{self.tag}br"
        self.gateway = f"{self.subnet}.1"
        self.use_nft = shutil.which("nft") is not None
        self.hosts: dict[str, SimHost] = {}
        self.postgres = Postgres(base, self.gateway, _free_port())
        self.extra_clusters: list[Postgres] = []  # stopped on close() too (a standby)
        self._names = [f"h{i}" for i in range(hosts)]

    def open(self) -> None:
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        for i, name in enumerate(self._names):
            self._add_namespace(name, f"{self.subnet}.{10 + i}")
        self.postgres.init()

    def _add_namespace(self, name: str, address: str) -> None:
        netns, root_port, inner = f"dbw{self.tag}{name}", f"dbw{self.tag}{name}r", f"dbw{self.tag}{name}n"
        sh("ip", "netns", "add", netns)
        sh("ip", "link", "add", root_port, "type", "veth", "peer", "name", inner)
        sh("ip", "link", "set", inner, "netns", netns)
        sh("ip", "link", "set", root_port, "master", self.bridge, "up")
        sh("ip", "-n", netns, "addr", "add", f"{address}/24", "dev", inner)
        sh("ip", "-n", netns, "link", "set", inner, "up")
        sh("ip", "-n", netns, "link", "set", "lo", "up")
        self.hosts[name] = SimHost(name, netns, address, root_port, self.base)

    def start(self, name: str, schema: str, threads: int = 8, url: str | None = None) -> SimHost:
        """`dbos-workers start host_app.py --workers 1` inside the host's namespace (on the
        private Postgres, or the given URL)."""
        host = self.hosts[name]
        env = base_env(HA_DB_URL=url or self.postgres.url, HA_SCHEMA=schema, HA_HOST=name,
                       HA_LOG_DIR=str(self.base), HA_LEASE_SEC=str(self.lease_sec),
                       HA_THREADS=str(threads), HA_STEP_SEC=str(self.step_sec))
        argv = ["ip", "netns", "exec", host.netns, *cli_command(), "start", str(APP), "--workers", "1",
                "--drain-timeout", "2"]
        with host.stderr_path.open("ab") as err:
            host.popen = subprocess.Popen(argv, env=env, cwd=self.base, stdin=subprocess.DEVNULL,
                                          stdout=err, stderr=err, start_new_session=True)
        return host

    def partition(self, name: str) -> None:
        host = self.hosts[name]
        if self.use_nft:
            sh("ip", "netns", "exec", host.netns, "nft", "-f", "-", inp=NFT_RULES)
        else:
            sh("ip", "link", "set", host.root_port, "down")
        host.partitioned = True

    def heal(self, name: str) -> None:
        host = self.hosts[name]
        if self.use_nft:
            sh("ip", "netns", "exec", host.netns, "nft", "delete", "table", "inet", "dbw_chaos", check=False)
        else:
            sh("ip", "link", "set", host.root_port, "up")
        host.partitioned = False

    def close(self) -> None:
        for host in self.hosts.values():
            host.kill()
            for pid in host.pids_seen:
                if pid_alive(pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        for cluster in [self.postgres, *self.extra_clusters]:
            cluster.stop("immediate")
        for host in self.hosts.values():
            sh("ip", "link", "del", host.root_port, check=False)  # its peer goes with it
            sh("ip", "netns", "del", host.netns, check=False)
        sh("ip", "link", "del", self.bridge, check=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def monotonic_ms() -> int:
    return int(time.monotonic() * 1000)
