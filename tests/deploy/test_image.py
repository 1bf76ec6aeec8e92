"""The container image, built and run for real with podman (bench/podman_local.py): it serves
a token exchange from a read-only root filesystem as uid 10001 and stops cleanly on SIGTERM;
it holds no build side; a config that fails `check --strict` or its tests builds no image."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support.http_server import free_port

from ._support import (
    BUILD_SIDE_MODULES,
    QUICKSTART,
    exchange_quickstart,
    podman_helper,
    quickstart_secrets,
    wait_ready,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def podman() -> tuple[ModuleType, Any]:
    for tool in ("podman", "runc", "debootstrap"):
        assert shutil.which(tool), f"{tool} is missing: .ci/run installs it (apt-get)"
    helper = podman_helper()
    engine = helper.Podman.default()
    helper.ensure_base_image(engine)
    return helper, engine


@pytest.fixture(scope="module")
def image(podman: tuple[ModuleType, Any]) -> Iterator[str]:
    helper, engine = podman
    tag = f"localhost/tokensmith:test-{os.getpid()}"
    helper.build_image(engine, tag)
    yield tag
    # the base image stays; the layers of this build go (see podman_local.prune)
    engine.run("rmi", "--force", tag, check=False)
    helper.prune(engine)


def test_image_config_is_non_root_exec_form_sigterm(podman: tuple[ModuleType, Any],
                                                     image: str) -> None:
    _, engine = podman
    config = json.loads(engine.run("image", "inspect", "--format", "{{json .Config}}",
                                   image).stdout)
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["/opt/tokensmith/bin/tokensmith", "serve", "/bundle"]
    assert config["StopSignal"] == "SIGTERM"
    assert not [e for e in config.get("Env", []) if "SECRET" in e or "KEY" in e]


def test_image_serves_read_only_as_uid_10001_and_stops_on_sigterm(
    podman: tuple[ModuleType, Any], image: str
) -> None:
    helper, engine = podman
    env = quickstart_secrets()
    port = free_port()
    container = helper.start_container(
        engine, image, args=["--host", "127.0.0.1", "--port", str(port)], env=env
    )
    try:
        state = json.loads(engine.run("inspect", "--format", "{{json .HostConfig}}",
                                      container).stdout)
        assert state["ReadonlyRootfs"] is True
        url = f"http://127.0.0.1:{port}"

        def running() -> bool:
            out = engine.run("inspect", "--format", "{{.State.Running}}", container,
                             check=False).stdout
            return out.strip() == "true"

        wait_ready(url, running, lambda: helper.container_logs(engine, container))
        issued = exchange_quickstart(url, env)
        assert issued["iss"] == "https://tokens.example.com/"
        probe = ("import os, pathlib\nprint(os.getuid(), os.getgid())\n"
                 "for d in (os.path.expanduser('~'), '/tmp', '/bundle', '/opt/tokensmith'):\n"
                 "    try:\n        (pathlib.Path(d) / 'probe').write_text('x'); print('wrote', d)\n"
                 "    except OSError:\n        pass\n")
        whoami = engine.run("exec", container, "/opt/tokensmith/bin/python", "-c",
                            probe).stdout
        # uid/gid 10001, and nowhere to write: not HOME, not /tmp, not the bundle
        assert whoami.split() == ["10001", "10001"], whoami
        logs = helper.container_logs(engine, container)
    finally:
        exit_code = helper.stop_container(engine, container)
    assert exit_code == 0, logs
    assert "Traceback" not in logs
    for secret in env.values():
        assert secret not in logs
    assert engine.run("container", "exists", container, check=False).returncode == 1


def test_image_holds_no_build_side(podman: tuple[ModuleType, Any], image: str) -> None:
    _, engine = podman
    probe = (
        "import importlib.util, json, subprocess\n"
        "def there(name):\n"
        "    try:\n        return importlib.util.find_spec(name) is not None\n"
        "    except ImportError:\n        return False\n"
        f"found = {{name: there(name) for name in {BUILD_SIDE_MODULES!r}}}\n"
        "check = subprocess.run(['tokensmith', 'check', '/bundle'], capture_output=True, "
        "text=True)\n"
        "print(json.dumps({'found': found, 'check': [check.returncode, check.stderr]}))\n"
    )
    out = engine.run("run", "--rm", "--network", "none", "--read-only",
                     "--entrypoint", "/opt/tokensmith/bin/python", image, "-c", probe).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["found"] == dict.fromkeys(BUILD_SIDE_MODULES, False)
    code, stderr = result["check"]
    assert code == 2 and "this install has only the runtime" in stderr


def test_a_config_whose_tests_fail_builds_no_image(podman: tuple[ModuleType, Any],
                                                   image: str, tmp_path: Path) -> None:
    # `check --strict` passes, one of the config's tests fails: the gate stops the build (the
    # gate's commands and their order are checked in test_dockerfile.py; each failing build
    # costs a minute with podman's vfs storage, so one is built here)
    helper, engine = podman
    text = (QUICKSTART / "tokensmith.yaml").read_text(encoding="utf-8")
    failing = text.replace("claims: {act: {sub: user-1, email: ada@example.com}}",
                           "claims: {act: {sub: user-1, email: bob@example.com}}")
    assert failing != text
    (tmp_path / "tokensmith.yaml").write_text(failing, encoding="utf-8")
    tag = f"localhost/tokensmith:failing-{os.getpid()}"
    with pytest.raises(helper.PodmanError) as failed:
        helper.build_image(engine, tag, named_contexts={"config": tmp_path})
    assert "2 passed, 1 failed" in str(failed.value)
    assert not engine.image_exists(tag)
