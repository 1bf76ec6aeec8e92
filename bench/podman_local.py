"""Build and run the tokensmith image with podman on a machine without a container registry.

Used by the image test (`tests/deploy/test_image.py`) and by benchmarks that start containers.
The recipe suits a sandboxed build machine as root: nothing can be pulled, so the base image
is made from Debian packages with debootstrap; storage is `vfs`, the OCI runtime `runc`,
cgroups are managed directly, and the default ulimits are left alone (setting them is refused
in such sandboxes). Everything lives in its own storage root (`TOKENSMITH_PODMAN_DIR`, default
/var/tmp/tokensmith-podman), so the host's podman store is never touched and images stay cached
between runs.

    python bench/podman_local.py base                  # make localhost/base-python:bookworm once
    python bench/podman_local.py build --tag tokensmith:dev [--config examples/quickstart]
    python bench/podman_local.py podman images         # any podman command on this store

Users with a registry need none of this: `docker build -f deploy/Dockerfile .` (docs/deploy.md).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE_IMAGE = "localhost/base-python:bookworm"
SUITE = "bookworm"
#: What the Dockerfile's stages need from the base: python3 with venv and pip, and CA roots.
BASE_PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates")
#: The host's CA bundle; mounted into builds so that pip trusts a TLS-intercepting proxy.
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
#: pip settings passed on to the build stage when the host has them (never baked in).
PIP_SETTINGS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST")


@dataclass(frozen=True)
class Podman:
    """podman with the flags this kind of machine needs, on a storage root of its own."""

    root: Path
    run_root: Path

    @classmethod
    def default(cls) -> Podman:
        state = Path(os.environ.get("TOKENSMITH_PODMAN_DIR", "/var/tmp/tokensmith-podman"))
        return cls(root=state, run_root=Path("/run/tokensmith-podman"))

    @property
    def containers_conf(self) -> Path:
        conf = self.root / "containers.conf"
        if not conf.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            conf.write_text("[containers]\ndefault_ulimits = []\n", encoding="utf-8")
        return conf

    def argv(self, *args: str) -> list[str]:
        """The full podman command line for `args`."""
        return [
            "podman",
            "--runtime", "runc",
            "--storage-driver", "vfs",
            "--cgroup-manager", "cgroupfs",
            "--events-backend", "file",
            "--root", str(self.root / "storage"),
            "--runroot", str(self.run_root / "storage"),
            "--tmpdir", str(self.run_root / "libpod"),
            *args,
        ]

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of a podman process: ours, CONTAINERS_CONF, and `extra`."""
        return {**os.environ, "CONTAINERS_CONF": str(self.containers_conf), **(extra or {})}

    def run(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        timeout: float = 600,
        check: bool = True,
        capture: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run one podman command; raise `PodmanError` with its output when it fails."""
        done = subprocess.run(
            self.argv(*args), env=self.env(env), timeout=timeout, text=True,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.STDOUT if capture else None,
            stdin=subprocess.DEVNULL, check=False,
        )
        if check and done.returncode != 0:
            raise PodmanError(f"podman {' '.join(args[:2])} exited {done.returncode}:\n"
                              f"{(done.stdout or '')[-4000:]}")
        return done

    def image_exists(self, name: str) -> bool:
        return self.run("image", "exists", name, check=False).returncode == 0

    def image_size(self, name: str) -> int:
        """The image's size in bytes, as `podman images` reports it."""
        out = self.run("image", "inspect", "--format", "{{.Size}}", name).stdout
        return int(out.strip())


class PodmanError(RuntimeError):
    """A podman command failed; the message holds the end of its output."""


def debian_mirror(suite: str = SUITE) -> str:
    """The Debian mirror apt uses for `suite` (not the security archive), from apt's sources."""
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for stanza in path.read_text(encoding="utf-8").split("\n\n"):
            fields: dict[str, str] = dict(re.findall(r"^(\w[\w-]*):\s*(.+)$", stanza, re.M))
            if suite in fields.get("Suites", "").split():
                return fields.get("URIs", DEFAULT_MIRROR).split()[0]
    for path in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*.list")]:
        if path.is_file():
            match = re.search(rf"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+{suite}\s", path.read_text(),
                              re.M)
            if match:
                return match.group(1)
    return DEFAULT_MIRROR


def ensure_base_image(podman: Podman, name: str = BASE_IMAGE) -> float:
    """Make `name` from Debian packages unless it exists; the seconds it took (0 if cached)."""
    if podman.image_exists(name):
        return 0.0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tokensmith-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
             SUITE, str(rootfs), debian_mirror()],
            check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL, timeout=900,
        )
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(rootfs / cache, ignore_errors=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        try:
            subprocess.run(
                podman.argv("import", "--quiet",
                            "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                                        "/usr/bin:/sbin:/bin",
                            "--change", 'CMD ["python3"]',
                            "-", name),
                stdin=tar.stdout, env=podman.env(), check=True, stdout=subprocess.DEVNULL,
                timeout=600,
            )
        finally:
            if tar.stdout is not None:
                tar.stdout.close()
            tar.wait()
    return time.monotonic() - started


def pip_build_args() -> dict[str, str]:
    """pip settings for the build stage: the host's index (when it is a URL), and the CA bundle
    mounted by `build_image` (pip inside the build must trust the same TLS proxy as the host)."""
    args = {k: os.environ[k] for k in PIP_SETTINGS if os.environ.get(k, "").startswith("http")}
    if CA_BUNDLE.is_file():
        args["PIP_CERT"] = str(CA_BUNDLE)
    return args


def build_image(
    podman: Podman,
    tag: str,
    *,
    base: str = BASE_IMAGE,
    config: str | None = None,
    context: Path = ROOT,
    extra_args: Mapping[str, str] | None = None,
    named_contexts: Mapping[str, Path] | None = None,
    secrets: Mapping[str, Path] | None = None,
) -> float:
    """Build deploy/Dockerfile from `context` as `tag`; the seconds it took. `config` is the
    config's path inside the context (the Dockerfile's CONFIG build argument);
    `named_contexts={"config": DIR}` takes the config from DIR instead; `secrets` are build
    secrets by id (`{"bundle_key": KEY}` signs the bundle), mounted for the one instruction
    that reads them and in no layer."""
    build_args = {"BASE": base, **pip_build_args(), **(extra_args or {})}
    if config is not None:
        build_args["CONFIG"] = config
    argv = ["build", "--isolation", "chroot", "--network", "host", "--layers",
            "-f", str(context / "deploy" / "Dockerfile"), "-t", tag]
    if CA_BUNDLE.is_file():
        argv += ["-v", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"]
    for key, value in sorted(build_args.items()):
        argv += ["--build-arg", f"{key}={value}"]
    for name, path in sorted((named_contexts or {}).items()):
        argv += ["--build-context", f"{name}={path}"]
    for name, path in sorted((secrets or {}).items()):
        argv += ["--secret", f"id={name},src={path}"]
    started = time.monotonic()
    podman.run(*argv, str(context), timeout=1200)
    return time.monotonic() - started


def start_container(
    podman: Podman,
    image: str,
    *,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    user: str = "10001:10001",
    name: str | None = None,
    volumes: Sequence[str] = (),
) -> str:
    """Start `image` detached, hardened as the Kubernetes manifests run it (read-only root
    without writable tmpfs, no capabilities, no privilege escalation, a numeric user) and on
    the host's network; return the container id. `env` values are passed through podman's
    environment, never on its command line. `volumes` are `-v` mounts (`HOST:PATH:ro`)."""
    argv = ["run", "--detach", "--network", "host", "--read-only", "--read-only-tmpfs=false",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--user", user]
    for volume in volumes:
        argv += ["--volume", volume]
    if name is not None:
        argv += ["--name", name]
    for key in sorted(env or {}):
        argv += ["--env", key]
    out = podman.run(*argv, image, *args, env=env).stdout
    return out.strip().splitlines()[-1]


def stop_container(podman: Podman, container: str, timeout: int = 10) -> int | None:
    """Stop (SIGTERM, then SIGKILL after `timeout` s) and remove a container; its exit code."""
    podman.run("stop", "--time", str(timeout), container, check=False, timeout=timeout + 60)
    state = podman.run("inspect", "--format", "{{json .State.ExitCode}}", container,
                       check=False).stdout
    podman.run("rm", "--force", container, check=False)
    try:
        code = json.loads(state.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    return code if isinstance(code, int) else None


def prune(podman: Podman) -> None:
    """Remove the untagged images no container uses: the layers of earlier builds. With `vfs`
    every layer is a whole copy of the filesystem (about 3 GB per build of the image), so
    keeping them would fill the disk; tagged images (the base image) stay."""
    podman.run("image", "prune", "--force", check=False, timeout=600)


def container_logs(podman: Podman, container: str) -> str:
    return podman.run("logs", container, check=False).stdout


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    sub.add_parser("base", help=f"make {BASE_IMAGE} from Debian packages unless it exists")
    build = sub.add_parser("build", help="build deploy/Dockerfile on the local base image")
    build.add_argument("--tag", default="localhost/tokensmith:dev")
    build.add_argument("--config", default=None, help="the config's path in the repository")
    passthrough = sub.add_parser("podman", help="run podman with this store's flags")
    passthrough.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    podman = Podman.default()
    if args.verb == "podman":
        return podman.run(*args.args, check=False, capture=False, timeout=3600).returncode
    took = ensure_base_image(podman)
    print(f"{BASE_IMAGE}: " + (f"made in {took:.0f} s" if took else "cached"))
    if args.verb == "build":
        took = build_image(podman, args.tag, config=args.config)
        size = podman.image_size(args.tag)
        print(f"{args.tag}: built in {took:.0f} s, {size / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
