"""The ephemeral store behind Redis Sentinel, and over TLS, on private redis-server processes.

A real failover, not a mock: a master, one replica and three sentinels run on free loopback
ports in a temporary directory (never the machine's own Redis on 6379). The master is killed
with SIGKILL; the sentinels promote the replica; the *same* RedisStore object keeps working
afterwards. During the gap every operation fails with StoreUnavailableError (the provider's
503), never with a raw redis exception and never by hanging.

Waits are bounded and the test asserts order of events, not durations.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from idp.settings import Settings, SettingsError
from idp.store import RedisStore, StoreUnavailableError, parse_sentinel_url, redis_client

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
SERVICE = "idpmaster"
PASSWORD = "s3cret-sentinel-test"  # the data nodes' and the sentinels' password, tests only

needs_redis = pytest.mark.skipif(not os.access(REDIS_SERVER, os.X_OK),
                                 reason="redis-server is not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(check: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.1)


@dataclass
class Group:
    """A private master, replica and sentinels; every process is ours and is ended at exit."""

    workdir: Path
    master_port: int = field(default_factory=_free_port)
    replica_port: int = field(default_factory=_free_port)
    sentinel_ports: list[int] = field(default_factory=lambda: [_free_port() for _ in range(3)])
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def _spawn(self, name: str, args: list[str]) -> None:
        log = (self.workdir / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                            cwd=self.workdir)

    def _data_node(self, name: str, port: int, *extra: str) -> None:
        node_dir = self.workdir / name
        node_dir.mkdir()
        self._spawn(name, [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1",
                           "--save", "", "--appendonly", "no", "--dir", str(node_dir),
                           "--requirepass", PASSWORD, "--masterauth", PASSWORD, *extra])

    def start(self) -> None:
        self._data_node("master", self.master_port)
        self._data_node("replica", self.replica_port,
                        "--replicaof", "127.0.0.1", str(self.master_port))
        for i, port in enumerate(self.sentinel_ports):
            conf = self.workdir / f"sentinel-{i}.conf"  # sentinel rewrites it: ours, writable
            conf.write_text("\n".join([
                f"port {port}", "bind 127.0.0.1", f"dir {self.workdir}",
                f"requirepass {PASSWORD}",
                f"sentinel monitor {SERVICE} 127.0.0.1 {self.master_port} 2",
                f"sentinel auth-pass {SERVICE} {PASSWORD}",
                f"sentinel down-after-milliseconds {SERVICE} 2000",
                f"sentinel failover-timeout {SERVICE} 4000",
                f"sentinel parallel-syncs {SERVICE} 1", ""]))
            self._spawn(f"sentinel-{i}", [REDIS_SERVER, str(conf), "--sentinel"])

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, password=PASSWORD, socket_timeout=1,
                           socket_connect_timeout=1)

    def sentinel_says(self, field: str, i: int = 0) -> int:
        """A number from sentinel i's view of the group (`SENTINEL MASTER`)."""
        view: Any = self.node(self.sentinel_ports[i]).sentinel_master(SERVICE)
        return int(str(view[field]))

    def url(self, db: int = 0) -> str:
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        return (f"redis+sentinel://:{PASSWORD}@{hosts}/{SERVICE}/{db}"
                f"?sentinel_password={PASSWORD}")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs.values():
            proc.wait(timeout=10)

    def log_tail(self) -> str:
        return "\n".join(f"--- {p.name}\n" + p.read_text(errors="replace")[-1500:]
                         for p in sorted(self.workdir.glob("*.log")))


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Group]:
    if not os.access(REDIS_SERVER, os.X_OK):
        pytest.skip("redis-server is not installed")
    g = Group(tmp_path_factory.mktemp("sentinel"))
    try:
        g.start()
        # Ready means: the replica is in sync, and every sentinel knows the replica and the two
        # other sentinels (they find each other through the master within a few seconds).
        # Without that, a quorum of 2 could not be reached when the master dies.
        _wait(lambda: g.node(g.replica_port).info("replication")["master_link_status"] == "up",
              "replica sync", 20)
        for i in range(len(g.sentinel_ports)):
            _wait(lambda i=i: (g.sentinel_says("num-other-sentinels", i) == 2  # type: ignore[misc]
                               and g.sentinel_says("num-slaves", i) == 1),
                  f"sentinel {i} discovery", 20)
        yield g
    except BaseException:
        print(g.log_tail())
        raise
    finally:
        g.stop()


# --- the URL form -----------------------------------------------------------------------------


def test_parse_sentinel_url_full_form() -> None:
    spec = parse_sentinel_url("redis+sentinel://app:p%40ss@s1:26380,[::1],s3/mymaster/2"
                              "?sentinel_password=x")
    assert spec["sentinels"] == [("s1", 26380), ("::1", 26379), ("s3", 26379)]
    assert (spec["service"], spec["db"]) == ("mymaster", 2)
    assert (spec["username"], spec["password"]) == ("app", "p@ss")
    assert spec["options"] == {"sentinel_password": "x"}
    assert spec["ssl"] is False


def test_parse_sentinel_url_defaults_and_tls() -> None:
    spec = parse_sentinel_url("rediss+sentinel://s1/mymaster?ssl_ca_certs=/etc/ca.pem")
    assert spec["sentinels"] == [("s1", 26379)]
    assert (spec["db"], spec["username"], spec["password"]) == (0, None, None)
    assert spec["ssl"] is True and spec["options"] == {"ssl_ca_certs": "/etc/ca.pem"}


@pytest.mark.parametrize(("url", "why"), [
    ("redis+sentinel:///mymaster", "at least one sentinel"),
    ("redis+sentinel://s1:26379", "path is /SERVICE_NAME"),
    ("redis+sentinel://s1/a/b/c", "path is /SERVICE_NAME"),
    ("redis+sentinel://s1/mymaster/x", "whole number"),
    ("redis+sentinel://s1:99999/mymaster", "bad sentinel port"),
    ("redis+sentinel://s1/mymaster?ssl_ca_certs=/x", "unknown sentinel URL option"),
    ("redis+sentinel://:hunter2@s1/m?colour=red", "unknown sentinel URL option"),
])
def test_parse_sentinel_url_refuses(url: str, why: str) -> None:
    with pytest.raises(ValueError, match=why) as err:
        parse_sentinel_url(url)
    assert "hunter2" not in str(err.value)


def test_settings_refuse_a_malformed_sentinel_url_at_start() -> None:
    with pytest.raises(SettingsError, match=r"IDP_REDIS_URL: .*SERVICE_NAME") as err:
        Settings.from_env({"IDP_REDIS_URL": "redis+sentinel://:hunter2@s1,s2/"})
    assert "hunter2" not in str(err.value)
    for url in ("redis+sentinel://:pw@s1,s2:26380/mymaster/1", "rediss://r1:6380/0",
                "redis://r1", "unix:///run/redis.sock"):
        assert Settings.from_env({"IDP_REDIS_URL": url}).redis_url == url
    with pytest.raises(SettingsError, match="must start with one of"):
        Settings.from_env({"IDP_REDIS_URL": "redis+cluster://r1:7000,r2:7000"})


def test_plain_urls_stay_plain_clients() -> None:
    """redis:// and rediss:// still go to redis-py's own URL parser (nothing connects here)."""
    plain = redis_client("redis://:pw@127.0.0.1:1/3")
    kwargs = plain.connection_pool.connection_kwargs
    assert (kwargs["db"], kwargs["password"], kwargs["socket_timeout"]) == (3, "pw", 2)
    tls = redis_client("rediss://127.0.0.1:1/0?ssl_ca_certs=/tmp/ca.pem")
    assert tls.connection_pool.connection_class.__name__ == "SSLConnection"
    assert tls.connection_pool.connection_kwargs["ssl_ca_certs"] == "/tmp/ca.pem"


# --- a real failover --------------------------------------------------------------------------


@needs_redis
def test_store_through_sentinel_survives_failover(group: Group) -> None:
    store = RedisStore(group.url())
    assert store.ping()
    store.put("before", {"v": "ก่อน"}, 300)
    assert store.get("before") == {"v": "ก่อน"}
    assert store.add("once", {"x": 1}, 300) and not store.add("once", {"x": 2}, 300)
    assert store.incr("counter", 300) == 1
    assert store.take("once") == {"x": 1} and store.take("once") is None
    # It really went to the master the sentinels name, under the idp: prefix.
    assert group.node(group.master_port).get("idp:before") is not None
    # Let the replica catch up, so the value outlives the master.
    _wait(lambda: group.node(group.replica_port).get("idp:before") is not None,
          "replication of idp:before", 10)

    group.procs["master"].send_signal(signal.SIGKILL)
    group.procs["master"].wait(timeout=10)

    # Sentinels need down-after-milliseconds (2 s) before they even agree the master is down,
    # so the first operations land in the gap: each fails fast as StoreUnavailableError.
    with pytest.raises(StoreUnavailableError):
        store.put("during", {"v": 1}, 60)
    assert store.ping() is False

    failures = 0
    deadline = time.monotonic() + 30
    while True:
        try:
            store.put("after", {"v": "หลัง"}, 60)
            break
        except StoreUnavailableError:
            failures += 1
            if time.monotonic() > deadline:
                print(group.log_tail())
                raise
            time.sleep(0.2)

    # The same store object now talks to the promoted replica.
    assert group.sentinel_says("port") == group.replica_port
    assert group.node(group.replica_port).info("replication")["role"] == "master"
    assert store.get("after") == {"v": "หลัง"}
    assert store.get("before") == {"v": "ก่อน"}
    assert store.incr("counter", 300) == 2
    assert store.take("after") == {"v": "หลัง"} and store.take("after") is None
    assert store.ping()


@needs_redis
def test_no_reachable_sentinel_is_unavailable(tmp_path: Path) -> None:
    store = RedisStore(f"redis+sentinel://127.0.0.1:{_free_port()}/{SERVICE}/0")
    with pytest.raises(StoreUnavailableError):
        store.get("k")
    assert store.ping() is False


# --- rediss:// (TLS) with the plain client ----------------------------------------------------


def _tls_files(workdir: Path) -> tuple[Path, Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test redis CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = workdir / "ca.pem", workdir / "server.pem", workdir / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@needs_redis
def test_rediss_url_speaks_tls(tmp_path: Path) -> None:
    ca, cert, key = _tls_files(tmp_path)
    port = _free_port()
    log = (tmp_path / "tls.log").open("wb")
    proc = subprocess.Popen([REDIS_SERVER, "--port", "0", "--tls-port", str(port),
                             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path), "--tls-cert-file", str(cert),
                             "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca),
                             "--tls-auth-clients", "no"], stdout=log, stderr=subprocess.STDOUT)
    try:
        store = RedisStore(f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={ca}")
        _wait(store.ping, "TLS redis-server start", 15)
        store.put("k", {"tls": True}, 60)
        assert store.take("k") == {"tls": True}
        # The server speaks only TLS: a plain redis:// client to the same port gets nothing.
        assert RedisStore(f"redis://127.0.0.1:{port}/0").ping() is False
        # And a client that does not trust the CA refuses the server (503, not a silent plain).
        untrusted = RedisStore(f"rediss://127.0.0.1:{port}/0")
        with pytest.raises(StoreUnavailableError):
            untrusted.get("k")
    except BaseException:
        print((tmp_path / "tls.log").read_text(errors="replace")[-2000:])
        raise
    finally:
        proc.kill()
        proc.wait(timeout=10)


@needs_redis
def test_rediss_sentinel_url_speaks_tls_to_sentinel_and_master(tmp_path: Path) -> None:
    """`rediss+sentinel://`: TLS to the sentinel and to the master it names, one CA file."""
    ca, cert, key = _tls_files(tmp_path)
    tls = ["--tls-cert-file", str(cert), "--tls-key-file", str(key),
           "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no"]
    master_port, sentinel_port = _free_port(), _free_port()
    procs: list[subprocess.Popen[bytes]] = []
    log = (tmp_path / "tls-group.log").open("wb")
    conf = tmp_path / "sentinel.conf"
    conf.write_text("\n".join([
        "port 0", f"tls-port {sentinel_port}", "bind 127.0.0.1", f"dir {tmp_path}",
        f"tls-cert-file {cert}", f"tls-key-file {key}", f"tls-ca-cert-file {ca}",
        "tls-auth-clients no", "tls-replication yes",
        f"sentinel monitor {SERVICE} 127.0.0.1 {master_port} 1", ""]))
    try:
        procs.append(subprocess.Popen([REDIS_SERVER, "--port", "0", "--tls-port", str(master_port),
                                       "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                       "--dir", str(tmp_path), *tls],
                                      stdout=log, stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen([REDIS_SERVER, str(conf), "--sentinel"],
                                      stdout=log, stderr=subprocess.STDOUT))
        store = RedisStore(f"rediss+sentinel://127.0.0.1:{sentinel_port}/{SERVICE}/0"
                           f"?ssl_ca_certs={ca}")
        _wait(store.ping, "TLS sentinel and master start", 15)
        store.put("k", {"tls": "sentinel"}, 60)
        assert store.take("k") == {"tls": "sentinel"}
        # Without the CA the sentinel itself is not trusted: 503, not a fall-back to plain.
        untrusted = RedisStore(f"rediss+sentinel://127.0.0.1:{sentinel_port}/{SERVICE}/0")
        with pytest.raises(StoreUnavailableError):
            untrusted.get("k")
    except BaseException:
        print((tmp_path / "tls-group.log").read_text(errors="replace")[-2000:])
        raise
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=10)
