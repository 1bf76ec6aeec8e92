"""deploy/kubernetes, rendered by `kubectl kustomize` (offline) as a user would: every object
is valid for Kubernetes 1.30 (strict schemas: an unknown field is an error), and the hardening
a reviewer asks for is there in every container."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tokensmith.runtime.body import BODY_TIMEOUT_SECONDS
from tokensmith.runtime.server import SHUTDOWN_SECONDS
from tokensmith.runtime.shutdown import DRAIN_SECONDS as SERVER_DRAIN_SECONDS

from ._support import ROOT

pytestmark = pytest.mark.slow

KUBERNETES = ROOT / "deploy" / "kubernetes"
TARGETS = {
    "base": KUBERNETES,
    "example overlay": KUBERNETES / "overlays" / "example",
}
KUBERNETES_VERSION = "1.30.0"
#: `tokensmith serve --drain-seconds` default: /readyz 503 while requests are still served.
DRAIN_SECONDS = 5
UID = 10001


def render(path: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is missing: .ci/run installs it"
    done = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module", params=sorted(TARGETS))
def objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(TARGETS[request.param])


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind]
    return found


def test_every_object_is_valid_for_kubernetes_1_30(objects: list[dict[str, Any]]) -> None:
    kinds = sorted(o["kind"] for o in objects)
    assert {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler",
            "NetworkPolicy"} <= set(kinds)
    for obj in objects:
        assert kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True) == "1.30"


def test_the_validator_refuses_a_broken_object(objects: list[dict[str, Any]]) -> None:
    broken = copy.deepcopy(one(objects, "Deployment"))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}  # a typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    broken = copy.deepcopy(one(objects, "HorizontalPodAutoscaler"))
    broken["spec"]["minReplicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_container_is_hardened(objects: list[dict[str, Any]]) -> None:
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == UID
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    containers = pod["containers"] + pod.get("initContainers", [])
    assert containers
    for container in containers:
        context = container["securityContext"]
        assert context["runAsNonRoot"] is True
        assert context["runAsUser"] == UID and isinstance(context["runAsUser"], int)
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context.get("privileged", False) is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        for kind in ("cpu", "memory"):
            assert container["resources"]["requests"][kind]
            assert container["resources"]["limits"][kind]


def test_probes_and_the_grace_period(objects: list[dict[str, Any]]) -> None:
    deployment = one(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] in ("/healthz", "/readyz")
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert ports[container[probe]["httpGet"]["port"]] == 8080
    args = container.get("args", [])
    drain = int(args[args.index("--drain-seconds") + 1]) if "--drain-seconds" in args \
        else DRAIN_SECONDS
    # the drain, then the requests in flight (a body still arriving is refused after
    # BODY_TIMEOUT_SECONDS, plus up to one second), all before the kubelet's SIGKILL
    assert pod["terminationGracePeriodSeconds"] > drain + BODY_TIMEOUT_SECONDS + 1
    # the drain is spelled out next to the grace period it must fit in, and the grace period
    # also outlasts the server's own backstop for requests in flight
    assert "--drain-seconds" in args
    assert pod["terminationGracePeriodSeconds"] > drain + SHUTDOWN_SECONDS
    assert DRAIN_SECONDS == SERVER_DRAIN_SECONDS
    # 2+ replicas: set in the Deployment, or left to an autoscaler that keeps at least 2
    replicas = deployment["spec"].get("replicas")
    if replicas is None:
        assert one(objects, "HorizontalPodAutoscaler")["spec"]["minReplicas"] >= 2
    else:
        assert replicas >= 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_secrets_come_from_secrets_and_nothing_is_writable(
    objects: list[dict[str, Any]],
) -> None:
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert not [e for e in container.get("env", []) if "value" in e and e["name"] !=
                "TOKENSMITH_TRUST"], "a literal value in env: secrets belong in a Secret"
    assert {"secretRef": {"name": "tokensmith-secrets"}} in container["envFrom"]
    trust = next(e["value"] for e in container["env"] if e["name"] == "TOKENSMITH_TRUST")
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts[trust]["readOnly"] is True
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts[trust]["name"]]["secret"]["secretName"] == "tokensmith-trust"
    # the server writes nothing: no writable volume at all
    assert not [v for v in pod["volumes"] if "emptyDir" in v or "hostPath" in v]
    assert all(m.get("readOnly") is True for m in container["volumeMounts"])


def test_service_budget_autoscaler_and_network_policy(objects: list[dict[str, Any]]) -> None:
    deployment = one(objects, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    service = one(objects, "Service")
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    budget = one(objects, "PodDisruptionBudget")
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpa = one(objects, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= 2
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    policy = one(objects, "NetworkPolicy")["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    assert [[p["port"] for p in rule["ports"]] for rule in policy["ingress"]] == [["http"]]
    egress = sorted((p["protocol"], p["port"]) for rule in policy["egress"]
                    for p in rule["ports"])
    assert egress == [("TCP", 53), ("TCP", 443), ("UDP", 53)]
    assert not [rule for rule in policy["egress"] if "to" in rule and not rule["to"]]


def test_spread_over_zones_and_nodes(objects: list[dict[str, Any]]) -> None:
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    keys = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
    assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}


def test_overlay_pins_the_image_and_namespace() -> None:
    objects = render(TARGETS["example overlay"])
    assert "replicas" not in one(objects, "Deployment")["spec"]  # the autoscaler's to set
    assert one(objects, "HorizontalPodAutoscaler")["spec"]["minReplicas"] == 3
    (container,) = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert container["image"].startswith("registry.example.com/platform/tokensmith:")
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == \
        {"tokensmith"}
    namespace = one(objects, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
