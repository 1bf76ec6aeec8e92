"""A fleet on one machine: replicas of the image behind haproxy, replaced one by one under load.

The proof that replicas share nothing and that a rolling replacement loses no exchange:

1. a bundle signing key pair is made for the run (`tokensmith keygen`, in the run's temporary
   directory; the private key is never printed and is gone when the run ends); the image is
   built (`bench/podman_local.py`, the Dockerfile's build with its check, test and compile
   gate) with the private key as its `bundle_key` build secret, so its bundle is signed; a new
   revision of the config is compiled, signed on the host and baked into an image derived from
   it (`FROM` the first image, with the new bundle). With `--image`, that image's bundle is
   copied out, signed on the host and baked into a derived image the same way;
2. `--replicas` containers of the old image (podman, read-only, uid 10001, as the manifests
   run them; the public key mounted read-only at /etc/tokensmith/trust and TOKENSMITH_TRUST
   naming it, so a replica refuses a bundle the run's key did not sign) serve on loopback
   ports behind haproxy, which checks `/readyz` every 500 ms and
   sends nothing to a replica that fails it; haproxy never retries (`retries 0`), so a request
   sent to a replica that refuses it counts as failed;
3. wrk drives steady load through haproxy (a fixed pause per connection between requests), first
   `--steady-seconds` alone, then during the rollout;
4. each replica in turn gets SIGTERM (`podman kill --signal TERM`: it drains, see
   docs/http.md), a replica of the new image starts on the slot's other port, the script waits
   until haproxy sees it up, and until the old one has exited (its exit code is reported).
   A replacement that exits instead of becoming ready (a revision its trust refuses) halts
   the rollout: the refusal is reported, the slot gets a replica of the old revision back, and
   no other slot is touched.

Report: whether the revisions are signed and by which key id (and what every replica's
`/readyz` says of its signers), requests sent, failed (target 0), latency percentiles during
the rollout against the steady state, and the mix of `X-Tokensmith-Revision` in each second
(old -> new). `--new-revision-flaw unsigned|tampered` rolls out a new revision that must be
refused (no signature; a file edited after signing, the manifest rewritten to match): the
proof that the fleet keeps serving the old revision instead (the exit status is then 1).

    python bench/fleet.py                              # builds the image (about 2.5 min) first
    python bench/fleet.py --image localhost/tokensmith:dev --json /tmp/fleet.json
    python bench/fleet.py --drain-seconds 0           # the same rollout without a drain
    python bench/fleet.py --processes --new-revision-flaw tampered   # halts, keeps the old

Everything runs on 127.0.0.1 and stops by itself: containers by id, haproxy and wrk by PID.
The images it made are removed at the end unless `--keep-images`. Needs podman, runc,
debootstrap (bench/podman_local.py), haproxy and wrk (Debian packages).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "examples" / "quickstart"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
#: The config change that makes the new revision: issued tokens live 10 minutes, not 15.
NEW_REVISION_CHANGE = ("expires_in: 15m", "expires_in: 10m")
#: Where a container replica finds the trusted public key (as the Kubernetes manifests mount it).
TRUST_IN_CONTAINER = "/etc/tokensmith/trust"
#: What `--new-revision-flaw tampered` edits after signing: an identity provider's leeway
#: stretched to a day, so that expired subject tokens pass (what a bundle writer without the
#: signing key would want).
TAMPER_CHANGE = ('"leeway": 60,', '"leeway": 86400,')
FLAWS = ("unsigned", "tampered")


def podman_local() -> Any:
    """bench/podman_local.py (the podman recipe), loaded by path as the tests load it."""
    spec = importlib.util.spec_from_file_location("podman_local", ROOT / "bench" /
                                                  "podman_local.py")
    assert spec is not None and spec.loader is not None
    module = sys.modules.get(spec.name)
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tokensmith(*args: str) -> str:
    """Run this checkout's tokensmith CLI; its standard output (it must succeed)."""
    done = subprocess.run([sys.executable, "-m", "tokensmith", *args], capture_output=True,
                          text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise SystemExit(f"tokensmith {args[0]} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


# --- the two revisions -------------------------------------------------------------------------

@dataclass(frozen=True)
class ReleaseKey:
    """The run's bundle signing key pair, made by `tokensmith keygen` in the run's temporary
    directory: `private` stays there (never printed, never mounted), `trust` is a directory
    holding only the public key, what replicas are given as their trust."""

    private: Path
    trust: Path
    kid: str


def release_key(work: Path) -> ReleaseKey:
    keys, trust = work / "keys", work / "trust"
    keys.mkdir(mode=0o700)
    trust.mkdir(mode=0o755)
    kid = tokensmith("keygen", "--out", str(keys / "release")).strip()  # prints the key id
    shutil.copyfile(keys / "release.pub", trust / "release.pub")
    (trust / "release.pub").chmod(0o644)  # readable by the containers' uid 10001
    return ReleaseKey(keys / "release.key", trust, kid)


def sign_bundle(bundle: Path, key: ReleaseKey) -> None:
    """Sign `bundle` with the run's key (`tokensmith sign`, as a release job does)."""
    tokensmith("sign", str(bundle), "--key", str(key.private))  # exits non-zero on failure


def compiled(config: Path, bundle: Path) -> str:
    """Compile `config` into `bundle`; its revision."""
    out = tokensmith("compile", str(config), "-o", str(bundle))
    revision = re.search(r"revision ([0-9a-f]{64})", out)
    assert revision, out
    return revision.group(1)


def new_revision_bundle(work: Path, key: ReleaseKey, flaw: str | None = None) -> tuple[Path, str]:
    """The new revision: the quickstart with one change, gated as the Dockerfile gates a config
    (`check --strict`, `test`, `compile`) and signed; its bundle directory and revision. With a
    `flaw`, it is then spoiled (see `spoil`)."""
    config = work / "config-new"
    shutil.copytree(QUICKSTART, config)
    path = config / "tokensmith.yaml"
    old, new = NEW_REVISION_CHANGE
    text = path.read_text(encoding="utf-8")
    assert old in text, f"examples/quickstart no longer says {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    bundle = work / "context" / "bundle"
    tokensmith("check", "--strict", str(config))
    tokensmith("test", str(config))
    revision = compiled(config, bundle)
    sign_bundle(bundle, key)
    if flaw is not None:
        revision = spoil(bundle, flaw)
    return bundle, revision


def spoil(bundle: Path, flaw: str) -> str:
    """Make a signed bundle one that a replica trusting its signer must refuse; its revision.

    `unsigned`: its signatures removed. `tampered`: what someone with write access to the
    bundle but not the key can do: edit a file and rewrite the manifest (sizes, hashes,
    revision) to match, keeping the now stale signature."""
    manifest_path = bundle / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if flaw == "unsigned":
        (bundle / "signatures.json").unlink()
        return str(manifest["revision"])
    config = bundle / "config.json"
    before, after = TAMPER_CHANGE
    text = config.read_text(encoding="utf-8")
    assert before in text, f"the compiled config no longer says {before!r}"
    data = text.replace(before, after, 1).encode("utf-8")
    config.write_bytes(data)
    manifest["files"]["config.json"] = {"sha256": hashlib.sha256(data).hexdigest(),
                                        "size": len(data)}
    lines = "".join(f"{name} {entry['sha256']}\n"
                    for name, entry in sorted(manifest["files"].items()))
    manifest["revision"] = hashlib.sha256(lines.encode("utf-8")).hexdigest()
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n",
                             encoding="utf-8")
    return str(manifest["revision"])


def derived_image(podman: Any, engine: Any, base: str, bundle: Path, tag: str) -> float:
    """An image of another revision: `base` with `bundle` in place of its own (removed first:
    a COPY alone would keep files the new bundle lacks, its `signatures.json` among them);
    seconds taken."""
    context = bundle.parent
    (context / "Containerfile").write_text(
        f"FROM {base}\nUSER 0:0\nRUN [\"rm\", \"-rf\", \"/bundle\"]\nCOPY bundle/ /bundle/\n"
        "USER 10001:10001\n", encoding="utf-8"
    )
    started = time.monotonic()
    engine.run("build", "--isolation", "chroot", "--network", "host", "-f",
               str(context / "Containerfile"), "-t", tag, str(context), timeout=900)
    return time.monotonic() - started


# --- haproxy -----------------------------------------------------------------------------------

HAPROXY_CONFIG = """\
global
    stats socket {socket} mode 600 level admin
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    # never retry: a request sent to a replica that refuses it is a failed request
    retries 0

frontend tokens
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk
    http-check send meth GET uri /readyz
    http-check expect status 200
    default-server inter 500ms fall 1 rise 2
{servers}
"""


@dataclass
class Haproxy:
    """haproxy in the foreground, its stderr (server state changes) read with timestamps."""

    work: Path
    port: int
    slots: Sequence[tuple[str, int]]
    process: subprocess.Popen[str] | None = None
    events: list[tuple[float, str]] = field(default_factory=list)

    @property
    def socket_path(self) -> Path:
        return self.work / "haproxy.sock"

    def start(self) -> None:
        servers = "\n".join(f"    server {name} 127.0.0.1:{port} check"
                            for name, port in self.slots)
        config = self.work / "haproxy.cfg"
        config.write_text(HAPROXY_CONFIG.format(socket=self.socket_path, port=self.port,
                                                servers=servers), encoding="utf-8")
        self.process = subprocess.Popen(["haproxy", "-db", "-f", str(config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            self.events.append((time.time(), line.rstrip()))

    def states(self) -> dict[str, str]:
        """Server name -> `UP`, `DOWN`, ... as haproxy sees it now."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(self.socket_path))
            sock.sendall(b"show stat\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        lines = data.decode().splitlines()
        header = lines[0].lstrip("# ").split(",")
        found = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("pxname") == "replicas" and row.get("svname") not in ("BACKEND", None):
                found[row["svname"]] = row["status"].split()[0]
        return found

    def wait_states(self, wanted: Mapping[str, str], timeout: float = 60) -> float:
        started = time.monotonic()
        while True:
            try:
                states = self.states()
            except OSError:
                states = {}
            if all(states.get(name) == state for name, state in wanted.items()):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise SystemExit(f"haproxy did not see {dict(wanted)} (it sees {states})")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGUSR1)  # haproxy's graceful stop
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --- wrk -----------------------------------------------------------------------------------------

WRK_SCRIPT = """\
wrk.method = "POST"
wrk.body = [[{body}]]
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

-- per thread: "second revision status" -> answers
counts = {{}}

function delay()
  return {delay_ms}
end

function response(status, headers, body)
  local revision = headers["x-tokensmith-revision"] or headers["X-Tokensmith-Revision"] or "-"
  local key = os.time() .. " " .. string.sub(revision, 1, 12) .. " " .. status
  counts[key] = (counts[key] or 0) + 1
end

local threads = {{}}

function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local out = io.open("{out}", "w")
  for _, thread in ipairs(threads) do
    for key, n in pairs(thread:get("counts")) do
      out:write("count " .. key .. " " .. n .. "\\n")
    end
  end
  local e = summary.errors
  out:write(string.format("summary %d %d %d %d %d %d\\n", summary.requests, e.connect, e.read,
                          e.write, e.status, e.timeout))
  for _, p in ipairs({{50, 90, 99, 99.9}}) do
    out:write(string.format("latency %g %d\\n", p, latency:percentile(p)))
  end
  out:write(string.format("latency max %d\\n", latency.max))
  out:close()
end
"""


@dataclass
class WrkRun:
    """One wrk run: what `done()` wrote."""

    requests: int
    errors: dict[str, int]
    latency_us: dict[str, int]
    per_second: dict[int, dict[str, int]]  # epoch second -> "revision status" -> answers

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


def start_wrk(work: Path, name: str, url: str, body: str, args: argparse.Namespace,
              seconds: float) -> tuple[subprocess.Popen[bytes], Path]:
    out = work / f"wrk-{name}.txt"
    script = work / f"wrk-{name}.lua"
    script.write_text(WRK_SCRIPT.format(body=body, delay_ms=args.delay_ms, out=out),
                      encoding="utf-8")
    process = subprocess.Popen(
        ["wrk", "-t", "2", "-c", str(args.connections), "-d", f"{int(seconds)}s", "--timeout",
         "5s", "-s", str(script), url + "/tokens"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return process, out


def finish_wrk(process: subprocess.Popen[bytes], out: Path, stop: bool = False) -> WrkRun:
    if stop and process.poll() is None:
        process.send_signal(signal.SIGINT)  # wrk stops, reports and runs done()
    process.wait(60)
    requests, errors, latency = 0, {}, {}
    per_second: dict[int, dict[str, int]] = {}
    for line in out.read_text(encoding="utf-8").splitlines():
        kind, *fields = line.split()
        if kind == "count":
            second, revision, status, n = fields
            bucket = per_second.setdefault(int(second), {})
            bucket[f"{revision} {status}"] = bucket.get(f"{revision} {status}", 0) + int(n)
        elif kind == "summary":
            requests = int(fields[0])
            errors = dict(zip(("connect", "read", "write", "status", "timeout"),
                              map(int, fields[1:]), strict=True))
        elif kind == "latency":
            latency[fields[0]] = int(fields[1])
    return WrkRun(requests, errors, latency, per_second)


# --- replicas ----------------------------------------------------------------------------------

@dataclass
class Replica:
    slot: int
    port: int
    image: str
    container: str
    started: float
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None


class Refused(Exception):
    """A replica exited instead of becoming ready (e.g. its trust refused the bundle)."""

    def __init__(self, replica: Replica, exit_code: int | None, log: str) -> None:
        super().__init__(f"replica on port {replica.port} exited {exit_code}")
        self.replica, self.exit_code, self.log = replica, exit_code, log


def readyz(port: int) -> tuple[int, dict[str, Any]]:
    """GET /readyz of the replica on `port`: its status and JSON body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/readyz")
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()


@dataclass
class Fleet:
    podman: Any
    engine: Any
    env: Mapping[str, str]
    drain_seconds: float
    #: a directory holding only the trusted public key
    trust: Path
    replicas: list[Replica] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    #: what each replica's /readyz said once it was ready: revision, signed, signers
    ready_reports: list[dict[str, Any]] = field(default_factory=list)

    def start(self, slot: int, port: int, image: str) -> Replica:
        container = self.podman.start_container(
            self.engine, image, env={**self.env, "TOKENSMITH_TRUST": TRUST_IN_CONTAINER},
            volumes=[f"{self.trust}:{TRUST_IN_CONTAINER}:ro"],
            args=["--host", "127.0.0.1", "--port", str(port),
                  "--drain-seconds", f"{self.drain_seconds:g}"],
        )
        replica = Replica(slot, port, image, container, time.time())
        self.replicas.append(replica)
        return replica

    def exited(self, replica: Replica) -> int | None:
        """The replica's exit code when it has exited, else None."""
        state = self.engine.run("inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}",
                                replica.container, check=False).stdout.split()
        return int(state[-1]) if state[:1] == ["false"] else None

    def logs(self, replica: Replica) -> str:
        return str(self.podman.container_logs(self.engine, replica.container))

    def wait_ready(self, replica: Replica, timeout: float = 120) -> float:
        """Seconds until the replica's /readyz answers 200 (what it said is kept); `Refused`
        when it exits first."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                status, body = readyz(replica.port)
                if status == 200:
                    self.ready_reports.append({"slot": replica.slot + 1, "port": replica.port,
                                               **{k: body.get(k) for k in
                                                  ("revision", "signed", "signers")}})
                    return time.monotonic() - started
            except (OSError, ValueError, http.client.HTTPException):
                pass
            code = self.exited(replica)
            if code is not None:
                log = self.logs(replica)
                self.forget(replica)
                raise Refused(replica, code, log)
            time.sleep(0.2)
        raise SystemExit(f"replica on port {replica.port} not ready:\n"
                         f"{self.logs(replica)[-3000:]}")

    def forget(self, replica: Replica) -> None:
        """A replica that exited by itself: removed from the fleet."""
        self.engine.run("rm", "--force", replica.container, check=False)
        self.replicas.remove(replica)

    def sigterm(self, replica: Replica) -> None:
        self.engine.run("kill", "--signal", "TERM", replica.container)

    def wait_exit(self, replica: Replica, timeout: float = 60) -> tuple[int | None, str, float]:
        """Wait for the container to exit; its exit code, log and the time it exited (then it
        is removed)."""
        self.engine.run("wait", replica.container, check=False, timeout=timeout)
        state = self.engine.run("inspect", "--format",
                                "{{.State.ExitCode}} {{.State.FinishedAt.UnixMilli}}",
                                replica.container, check=False).stdout.split()
        logs = self.podman.container_logs(self.engine, replica.container)
        self.engine.run("rm", "--force", replica.container, check=False)
        self.replicas.remove(replica)
        self.stopped.append(replica.container)
        try:
            return int(state[-2]), logs, int(state[-1]) / 1000
        except (ValueError, IndexError):
            return None, logs, time.time()

    def stop_all(self) -> None:
        for replica in list(self.replicas):
            self.podman.stop_container(self.engine, replica.container, timeout=30)
            self.replicas.remove(replica)


@dataclass
class ProcessFleet(Fleet):
    """The same fleet with `tokensmith serve` processes of this checkout instead of containers
    (`--processes`: a quick run without podman; the "image" is a bundle directory)."""

    work: Path = Path()

    def start(self, slot: int, port: int, image: str) -> Replica:
        log = self.work / f"replica-{port}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "tokensmith", "serve", image, "--port", str(port),
                 "--drain-seconds", f"{self.drain_seconds:g}", "--trust", str(self.trust)],
                env={**os.environ, **self.env}, stdout=out, stderr=subprocess.STDOUT,
            )
        replica = Replica(slot, port, image, f"pid {process.pid}", time.time(), process, log)
        self.replicas.append(replica)
        return replica

    def exited(self, replica: Replica) -> int | None:
        assert replica.process is not None
        return replica.process.poll()

    def logs(self, replica: Replica) -> str:
        assert replica.log is not None
        return replica.log.read_text(encoding="utf-8", errors="replace")

    def forget(self, replica: Replica) -> None:
        self.replicas.remove(replica)

    def sigterm(self, replica: Replica) -> None:
        assert replica.process is not None
        replica.process.send_signal(signal.SIGTERM)

    def wait_exit(self, replica: Replica, timeout: float = 60) -> tuple[int | None, str, float]:
        assert replica.process is not None and replica.log is not None
        code = replica.process.wait(timeout)
        exited = time.time()
        self.replicas.remove(replica)
        self.stopped.append(replica.container)
        return code, replica.log.read_text(encoding="utf-8", errors="replace"), exited

    def stop_all(self) -> None:
        for replica in list(self.replicas):
            assert replica.process is not None
            replica.process.kill()
            replica.process.wait()
            self.replicas.remove(replica)


# --- the run -------------------------------------------------------------------------------------

def subject_body(env: Mapping[str, str]) -> str:
    import jwt  # PyJWT, a dependency of tokensmith

    now = int(time.time())
    token = jwt.encode({"iss": "https://login.example.com/", "aud": "tokensmith-quickstart",
                        "sub": "user-1", "email": "ada@example.com", "iat": now,
                        "exp": now + 3600}, env["QUICKSTART_IDP_SECRET"], "HS256")
    return urlencode({"grant_type": TOKEN_EXCHANGE, "subject_token": token,
                      "audience": "my-service"})


@contextmanager
def bundles(work: Path, key: ReleaseKey,
            flaw: str | None) -> Iterator[tuple[str, str, str, str]]:
    """`--processes`: (old bundle, its revision, new bundle, its revision), both signed."""
    old = work / "bundle-old"
    revision = compiled(QUICKSTART, old)
    sign_bundle(old, key)
    new, new_revision = new_revision_bundle(work, key, flaw)
    yield str(old), revision, str(new), new_revision


def signed_old_image(podman: Any, engine: Any, args: argparse.Namespace, work: Path,
                     key: ReleaseKey, report: dict[str, Any]) -> str:
    """The old revision's image, its bundle signed by the run's key: built with the key as the
    Dockerfile's `bundle_key` build secret, or (`--image`) derived from the given image with
    its bundle copied out and signed on the host."""
    if args.image is None:
        old = f"localhost/tokensmith:fleet-old-{os.getpid()}"
        podman.ensure_base_image(engine)
        report["image_build_seconds"] = round(
            podman.build_image(engine, old, secrets={"bundle_key": key.private}), 1)
        return old
    context = work / "context-old"
    context.mkdir()
    container = engine.run("create", args.image).stdout.strip().splitlines()[-1]
    try:
        engine.run("cp", f"{container}:/bundle", str(context / "bundle"))
    finally:
        engine.run("rm", "--force", container, check=False)
    sign_bundle(context / "bundle", key)
    old = f"localhost/tokensmith:fleet-old-{os.getpid()}"
    report["derived_image_seconds_old"] = round(
        derived_image(podman, engine, args.image, context / "bundle", old), 1)
    return old


@contextmanager
def images(podman: Any, engine: Any, args: argparse.Namespace, work: Path, key: ReleaseKey,
           report: dict[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    """(old image, its revision, new image, its revision), both signed; removed afterwards
    unless kept."""
    made = []
    try:
        old = signed_old_image(podman, engine, args, work, key, report)
        made.append(old)
        old_revision = engine.run("run", "--rm", "--network", "none", "--entrypoint",
                                  "/opt/tokensmith/bin/python", old, "-c",
                                  "import json; print(json.load(open('/bundle/manifest.json'))"
                                  "['revision'])").stdout.strip().splitlines()[-1]
        bundle, new_revision = new_revision_bundle(work, key, args.new_revision_flaw)
        new = f"localhost/tokensmith:fleet-new-{os.getpid()}"
        report["derived_image_seconds"] = round(derived_image(podman, engine, old, bundle, new), 1)
        made.append(new)
        yield old, old_revision, new, new_revision
    finally:
        if not args.keep_images:
            for tag in made:
                engine.run("rmi", "--force", tag, check=False)
            podman.prune(engine)


def run(args: argparse.Namespace) -> dict[str, Any]:
    tools = ("haproxy", "wrk") if args.processes else ("podman", "runc", "haproxy", "wrk")
    for tool in tools:
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing (apt-get install {tool})")
    env = {"QUICKSTART_IDP_SECRET": secrets.token_urlsafe(32),
           "TOKENSMITH_SIGNING_KEY": secrets.token_urlsafe(32)}
    report: dict[str, Any] = {"replicas": args.replicas, "drain_seconds": args.drain_seconds,
                              "connections": args.connections, "delay_ms": args.delay_ms,
                              "replica_kind": "process" if args.processes else "container",
                              "new_revision_flaw": args.new_revision_flaw}
    with tempfile.TemporaryDirectory(prefix="tokensmith-fleet-") as tmp:
        work = Path(tmp)
        key = release_key(work)
        # every replica trusts the run's key alone; both revisions are signed by it (the new
        # one spoiled afterwards with --new-revision-flaw)
        report.update(signed=True, signer=key.kid)
        if args.processes:
            fleet: Fleet = ProcessFleet(None, None, env, args.drain_seconds, key.trust,
                                        work=work)
            with bundles(work, key, args.new_revision_flaw) as (old, old_rev, new, new_rev):
                report["revisions"] = {"old": old_rev, "new": new_rev}
                rollout(fleet, env, args, work, old, new, report)
        else:
            podman = podman_local()
            engine = podman.Podman.default()
            fleet = Fleet(podman, engine, env, args.drain_seconds, key.trust)
            with images(podman, engine, args, work, key, report) as (old, old_rev, new,
                                                                      new_rev):
                report["revisions"] = {"old": old_rev, "new": new_rev}
                rollout(fleet, env, args, work, old, new, report)
        report["readyz"] = fleet.ready_reports
    return report


def rollout(fleet: Fleet, env: Mapping[str, str], args: argparse.Namespace,
            work: Path, old: str, new: str, report: dict[str, Any]) -> None:
    # two ports per slot: the replica being replaced and its replacement
    ports = [(free_port(), free_port()) for _ in range(args.replicas)]
    slots = [(f"r{i + 1}{side}", pair[j]) for i, pair in enumerate(ports)
             for j, side in enumerate("ab")]
    haproxy = Haproxy(work, free_port(), slots)
    try:
        for i, (port, _) in enumerate(ports):
            fleet.wait_ready(fleet.start(i, port, old))
        haproxy.start()
        haproxy.wait_states({name: ("UP" if name.endswith("a") else "DOWN")
                             for name, _ in slots})
        url = f"http://127.0.0.1:{haproxy.port}"
        body = subject_body(env)

        steady_process, steady_out = start_wrk(work, "steady", url, body, args,
                                               args.steady_seconds)
        steady = finish_wrk(steady_process, steady_out)

        rolling_process, rolling_out = start_wrk(work, "rollout", url, body, args, 3600)
        began = time.time()
        time.sleep(2)  # load before the first replacement
        steps: list[dict[str, Any]] = []
        for i, (_, new_port) in enumerate(ports):
            # the oldest replica: the old ones come first, each replacement is appended
            steps.append(replace(fleet, haproxy, fleet.replicas[0], i, new_port, (old, new),
                                 began))
            if "refused" in steps[-1]:
                break  # a revision a replica refuses is rolled out no further
        time.sleep(2)  # load after the last one
        rolling = finish_wrk(rolling_process, rolling_out, stop=True)
        ended = time.time()
        report["steady"] = summary(steady)
        report["rollout"] = {**summary(rolling), "seconds": round(ended - began, 1),
                             "steps": steps, "completed": "refused" not in steps[-1]}
        if "refused" in steps[-1]:
            report["rollout"]["halted"] = (f"slot {steps[-1]['slot']} refused the new "
                                           f"revision: {steps[-1]['refused']['reason']}")
        report["timeline"] = timeline(rolling, began, report["revisions"])
        report["haproxy_events"] = [f"{t - began:+.1f}s {line}" for t, line in haproxy.events
                                    if "Server replicas/" in line]
        report["sent"] = steady.requests + rolling.requests
        report["failed"] = steady.failed + rolling.failed
    finally:
        haproxy.stop()
        fleet.stop_all()


def replace(fleet: Fleet, haproxy: Haproxy, old: Replica, slot: int, port: int,
            images_: tuple[str, str], began: float) -> dict[str, Any]:
    """SIGTERM `old`, start the new image of `images_` (old, new) on `port`, wait until haproxy
    sends it requests and `old` has exited; what happened when, in seconds since the rollout
    began. When the new replica exits instead (`refused`: what it said), a replica of the old
    image takes the port: the slot is rolled back."""
    sigterm_at = time.time()
    fleet.sigterm(old)
    step: dict[str, Any] = {"slot": slot + 1, "sigterm": round(sigterm_at - began, 1)}
    try:
        ready_after = fleet.wait_ready(fleet.start(slot, port, images_[1]))
    except Refused as refused:
        lines = [line.strip() for line in refused.log.splitlines() if line.strip()]
        reasons = [line.lstrip("- ") for line in lines if line.startswith("- ")]
        step["refused"] = {"exit_code": refused.exit_code, "traceback": "Traceback" in
                           refused.log, "reason": "; ".join(reasons) or
                           (lines[-1] if lines else ""), "log": lines[-5:]}
        ready_after = fleet.wait_ready(fleet.start(slot, port, images_[0]))
        step["rolled_back_to_old"] = True
    names = {p: n for n, p in haproxy.slots}
    haproxy.wait_states({names[port]: "UP", names[old.port]: "DOWN"})
    up_at = time.time()
    exit_code, logs, exited = fleet.wait_exit(old)
    return {
        **step,
        "new_ready_after": round(ready_after, 1),
        "new_up_in_haproxy": round(up_at - began, 1),
        "old_exited": round(exited - began, 1),
        "old_exit_code": exit_code,
        "old_traceback": "Traceback" in logs,
        "old_last_line": logs.strip().splitlines()[-1] if logs.strip() else "",
    }


def summary(run_: WrkRun) -> dict[str, Any]:
    return {"requests": run_.requests, "failed": run_.failed, "errors": run_.errors,
            "latency_ms": {k: round(v / 1000, 2) for k, v in run_.latency_us.items()}}


def timeline(run_: WrkRun, began: float, revisions: Mapping[str, str]) -> list[dict[str, Any]]:
    """Per second of the rollout: answers by the old and the new revision, and failures."""
    short = {revisions["old"][:12]: "old", revisions["new"][:12]: "new"}
    rows = []
    for second in sorted(run_.per_second):
        row: dict[str, Any] = {"t": second - int(began), "old": 0, "new": 0, "other": 0,
                               "non_200": 0}
        for key, n in run_.per_second[second].items():
            revision, status = key.split()
            row[short.get(revision, "other")] += n
            if status != "200":
                row["non_200"] += n
        rows.append(row)
    return rows


def print_report(report: dict[str, Any]) -> None:
    steady, rolling = report["steady"], report["rollout"]
    print(f"revisions: old {report['revisions']['old'][:12]} -> new "
          f"{report['revisions']['new'][:12]} (signed: {report['signed']}, by key "
          f"{report['signer']})")
    if report["new_revision_flaw"]:
        print(f"the new revision is spoiled on purpose: {report['new_revision_flaw']}")
    print(f"requests sent {report['sent']}, failed {report['failed']}")
    for name, part in (("steady", steady), ("rollout", rolling)):
        lat = part["latency_ms"]
        print(f"{name:8} {part['requests']:7} requests, {part['failed']} failed "
              f"{part['errors']}; latency ms p50 {lat.get('50')} p90 {lat.get('90')} "
              f"p99 {lat.get('99')} max {lat.get('max')}")
    for step in rolling["steps"]:
        print(f"  slot {step['slot']}: SIGTERM at {step['sigterm']} s, new ready after "
              f"{step['new_ready_after']} s, up in haproxy at {step['new_up_in_haproxy']} s, "
              f"old exited at {step['old_exited']} s with {step['old_exit_code']}")
        if "refused" in step:
            print(f"  slot {step['slot']}: the new revision was REFUSED (exit "
                  f"{step['refused']['exit_code']}: {step['refused']['reason']}); the slot "
                  "runs the old revision again")
    if "halted" in rolling:
        print(f"rollout halted: {rolling['halted']}")
    print("   t   old   new  non-200")
    for row in report["timeline"]:
        print(f"{row['t']:4} {row['old']:5} {row['new']:5} {row['non_200']:8}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", help="an image already built from deploy/Dockerfile "
                        "(default: build one, about 2.5 minutes)")
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--drain-seconds", type=float, default=5.0)
    parser.add_argument("--steady-seconds", type=float, default=15.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--delay-ms", type=int, default=10,
                        help="pause of each connection between two requests (steady load)")
    parser.add_argument("--json", type=Path, help="write the report there too")
    parser.add_argument("--keep-images", action="store_true")
    parser.add_argument("--processes", action="store_true",
                        help="replicas as `tokensmith serve` processes of this checkout, not "
                        "containers: a quick run without podman or an image")
    parser.add_argument("--new-revision-flaw", choices=FLAWS, default=None,
                        help="roll out a new revision its replicas must refuse: without its "
                        "signature, or edited after signing; the rollout halts (exit 1)")
    args = parser.parse_args(argv)
    report = run(args)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0 if report["failed"] == 0 and report["rollout"]["completed"] else 1


if __name__ == "__main__":
    sys.exit(main())
