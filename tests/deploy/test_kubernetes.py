"""deploy/kubernetes, rendered by `kubectl kustomize` (offline) as a user would: every object
is valid for Kubernetes 1.30 (strict schemas: an unknown field is an error), and the hardening
a reviewer asks for is there in every container. The shadow overlay (docs/rollout.md) adds a
Deployment that serves the live bundle with a candidate beside it, leaving the live objects as
the production overlay has them."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tokensmith.runtime.body import BODY_TIMEOUT_SECONDS
from tokensmith.runtime.server import SHUTDOWN_SECONDS
from tokensmith.runtime.shadow import ShadowCollector
from tokensmith.runtime.shadow_candidate import RESULTS, WOULD_BREAK
from tokensmith.runtime.shutdown import DRAIN_SECONDS as SERVER_DRAIN_SECONDS

from ._support import ROOT

pytestmark = pytest.mark.slow

KUBERNETES = ROOT / "deploy" / "kubernetes"
TARGETS = {
    "base": KUBERNETES,
    "example overlay": KUBERNETES / "overlays" / "example",
    "shadow overlay": KUBERNETES / "overlays" / "shadow",
}
SHADOW_RULES = KUBERNETES / "overlays" / "shadow" / "prometheusrule.yaml"
#: The Deployment whose pods answer with the live bundle and nothing else.
LIVE = "tokensmith"
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


def one(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind
                and name in (None, o["metadata"]["name"])]
    return found


def deployments(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = [o for o in objects if o["kind"] == "Deployment"]
    assert found
    return found


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def test_every_object_is_valid_for_kubernetes_1_30(objects: list[dict[str, Any]]) -> None:
    kinds = sorted(o["kind"] for o in objects)
    assert {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler",
            "NetworkPolicy"} <= set(kinds)
    for obj in objects:
        assert kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True) == "1.30"


def test_the_validator_refuses_a_broken_object(objects: list[dict[str, Any]]) -> None:
    broken = copy.deepcopy(one(objects, "Deployment", LIVE))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}  # a typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    broken = copy.deepcopy(one(objects, "HorizontalPodAutoscaler"))
    broken["spec"]["minReplicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_container_is_hardened(objects: list[dict[str, Any]]) -> None:
    for deployment in deployments(objects):
        assert_hardened(deployment["spec"]["template"]["spec"])


def assert_hardened(pod: dict[str, Any]) -> None:
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
    for deployment in deployments(objects):
        assert_probes_and_grace_period(objects, deployment)


def assert_probes_and_grace_period(objects: list[dict[str, Any]],
                                   deployment: dict[str, Any]) -> None:
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
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    if deployment["metadata"]["name"] != LIVE:
        return  # the shadow's one pod: test_shadow_overlay_runs_the_candidate_beside_live
    # 2+ replicas: set in the Deployment, or left to an autoscaler that keeps at least 2
    replicas = deployment["spec"].get("replicas")
    if replicas is None:
        assert one(objects, "HorizontalPodAutoscaler")["spec"]["minReplicas"] >= 2
    else:
        assert replicas >= 2


def test_secrets_come_from_secrets_and_nothing_is_writable(
    objects: list[dict[str, Any]],
) -> None:
    for deployment in deployments(objects):
        assert_secrets_and_nothing_writable(deployment["spec"]["template"]["spec"])


def assert_secrets_and_nothing_writable(pod: dict[str, Any]) -> None:
    (container,) = pod["containers"]
    assert not [e for e in container.get("env", []) if "value" in e and e["name"] !=
                "TOKENSMITH_TRUST"], "a literal value in env: secrets belong in a Secret"
    assert {"secretRef": {"name": "tokensmith-secrets"}} in container["envFrom"]
    trust = next(e["value"] for e in container["env"] if e["name"] == "TOKENSMITH_TRUST")
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts[trust]["readOnly"] is True
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts[trust]["name"]]["secret"]["secretName"] == "tokensmith-trust"
    # the server writes nothing: no writable volume at all, but the one an init container
    # fills before the server starts (the shadow's candidate), which the server reads only
    assert not [v for v in pod["volumes"] if "hostPath" in v]
    filled = {m["name"] for c in pod.get("initContainers", []) for m in c["volumeMounts"]}
    assert {v["name"] for v in pod["volumes"] if "emptyDir" in v} <= filled
    if not pod.get("initContainers"):
        assert not [v for v in pod["volumes"] if "emptyDir" in v]
    assert all(m.get("readOnly") is True for m in container["volumeMounts"])


def test_service_budget_autoscaler_and_network_policy(objects: list[dict[str, Any]]) -> None:
    deployment = one(objects, "Deployment", LIVE)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    service = one(objects, "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    for each in deployments(objects):  # every Deployment answers: the Service reaches it
        assert selects(service["spec"]["selector"], each["spec"]["template"]["metadata"]["labels"])
    budget = one(objects, "PodDisruptionBudget")
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpa = one(objects, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= 2
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    for each in deployments(objects):  # one NetworkPolicy for each Deployment's pods, the same
        pod_labels = each["spec"]["template"]["metadata"]["labels"]
        (policy,) = [o["spec"] for o in objects if o["kind"] == "NetworkPolicy"
                     and selects(o["spec"]["podSelector"]["matchLabels"], pod_labels)]
        assert_network_policy(policy)


def assert_network_policy(policy: dict[str, Any]) -> None:
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    assert [[p["port"] for p in rule["ports"]] for rule in policy["ingress"]] == [["http"]]
    egress = sorted((p["protocol"], p["port"]) for rule in policy["egress"]
                    for p in rule["ports"])
    assert egress == [("TCP", 53), ("TCP", 443), ("UDP", 53)]
    assert not [rule for rule in policy["egress"] if "to" in rule and not rule["to"]]


def test_spread_over_zones_and_nodes(objects: list[dict[str, Any]]) -> None:
    for deployment in deployments(objects):
        template = deployment["spec"]["template"]
        pod = template["spec"]
        keys = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
        assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
        for constraint in pod["topologySpreadConstraints"]:  # spread among its own pods
            assert constraint["labelSelector"]["matchLabels"] == \
                deployment["spec"]["selector"]["matchLabels"]


def test_overlay_pins_the_image_and_namespace() -> None:
    objects = render(TARGETS["example overlay"])
    assert "replicas" not in one(objects, "Deployment", LIVE)["spec"]  # the autoscaler's to set
    assert one(objects, "HorizontalPodAutoscaler")["spec"]["minReplicas"] == 3
    (container,) = one(objects, "Deployment", LIVE)["spec"]["template"]["spec"]["containers"]
    assert container["image"].startswith("registry.example.com/platform/tokensmith:")
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == \
        {"tokensmith"}
    namespace = one(objects, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_shadow_overlay_runs_the_candidate_beside_live() -> None:
    production = render(TARGETS["example overlay"])
    shadowing = render(TARGETS["shadow overlay"])
    # a rehearsal changes no live object but the Service's selector: the live pods roll nowhere
    live_objects = {(o["kind"], o["metadata"]["name"]): o for o in production}
    for key, obj in live_objects.items():
        if key != ("Service", LIVE):
            assert one(shadowing, *key) == obj, key
    added = {(o["kind"], o["metadata"]["name"]) for o in shadowing} - set(live_objects)
    assert added == {("Deployment", "tokensmith-shadow"), ("NetworkPolicy", "tokensmith-shadow")}
    # ending the rehearsal, `kubectl delete -k .../shadow/shadow-deployment`, deletes just those
    alone = render(TARGETS["shadow overlay"] / "shadow-deployment")
    assert {(o["kind"], o["metadata"]["name"]) for o in alone} == added
    assert {o["metadata"]["namespace"] for o in alone} == {"tokensmith"}

    live = one(shadowing, "Deployment", LIVE)
    shadow = one(shadowing, "Deployment", "tokensmith-shadow")
    live_pod, pod = live["spec"]["template"]["spec"], shadow["spec"]["template"]["spec"]
    (live_server,), (server,) = live_pod["containers"], pod["containers"]
    # it answers with the live bundle: the live image, its args first (host, port, drain)
    assert server["image"] == live_server["image"]
    args = server["args"]
    assert args[:len(live_server["args"])] == live_server["args"]
    assert args[len(live_server["args"]):] == ["--shadow", "/candidate", "--shadow-sample", "1"]
    # the candidate: the candidate image's /bundle, copied before the server starts, read-only
    mounts = {m["mountPath"]: m for m in server["volumeMounts"]}
    assert mounts["/candidate"]["readOnly"] is True
    volume = next(v for v in pod["volumes"] if v["name"] == mounts["/candidate"]["name"])
    assert "emptyDir" in volume
    (init,) = pod["initContainers"]
    assert init["image"] != live_server["image"]
    assert init["image"].startswith("registry.example.com/platform/tokensmith:")
    assert [m["mountPath"] for m in init["volumeMounts"]] == ["/candidate"]
    assert init["volumeMounts"][0]["name"] == volume["name"]
    assert "'/bundle', '/candidate'" in init["command"][-1]
    # judged under the same trust, with the same secrets and the same hardening as a live pod
    assert server["env"] == live_server["env"]
    assert {"name": "TOKENSMITH_TRUST", "value": "/etc/tokensmith/trust"} in server["env"]
    assert server["envFrom"] == live_server["envFrom"]
    assert pod["securityContext"] == live_pod["securityContext"]
    assert server["securityContext"] == live_server["securityContext"]
    assert init["securityContext"] == live_server["securityContext"]
    for field in ("terminationGracePeriodSeconds", "automountServiceAccountToken"):
        assert pod[field] == live_pod[field]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert server[probe] == live_server[probe]
    assert [v for v in pod["volumes"] if v["name"] != volume["name"]] == live_pod["volumes"]
    # one pod; two bundles in memory
    assert shadow["spec"]["replicas"] == 1
    assert memory_mib(server["resources"]["limits"]["memory"]) > \
        memory_mib(live_server["resources"]["limits"]["memory"])
    # the two Deployments' selectors stay apart: the live autoscaler and budget never count the
    # shadow pod; the Service reaches both (test_service_budget_autoscaler_and_network_policy)
    shadow_labels = shadow["spec"]["template"]["metadata"]["labels"]
    live_labels = live["spec"]["template"]["metadata"]["labels"]
    assert not selects(live["spec"]["selector"]["matchLabels"], shadow_labels)
    assert not selects(shadow["spec"]["selector"]["matchLabels"], live_labels)
    assert not selects(one(shadowing, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
                       shadow_labels)
    assert one(shadowing, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["name"] == LIVE
    assert one(shadowing, "NetworkPolicy", "tokensmith-shadow")["spec"] == \
        {**one(shadowing, "NetworkPolicy", LIVE)["spec"],
         "podSelector": {"matchLabels": shadow["spec"]["selector"]["matchLabels"]}}


def memory_mib(quantity: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * (1024 if unit == "Gi" else 1)


def test_shadow_alerts_name_what_the_server_exports() -> None:
    """The alert rules are kept out of the overlay's resources (a Prometheus Operator kind);
    each selector they use is a metric, label and result the shadow really exports."""
    rendered = render(TARGETS["shadow overlay"])
    assert "PrometheusRule" not in {o["kind"] for o in rendered}
    rule_file = yaml.safe_load(SHADOW_RULES.read_text())
    assert (rule_file["apiVersion"], rule_file["kind"]) == \
        ("monitoring.coreos.com/v1", "PrometheusRule")
    assert rule_file["metadata"]["namespace"] == one(rendered, "Deployment", LIVE)[
        "metadata"]["namespace"]
    rules = {r["alert"]: r for g in rule_file["spec"]["groups"] for r in g["rules"]}
    would_break = rules["TokensmithShadowWouldBreak"]["expr"]
    assert 'tokensmith_shadow_decisions_by_name_total{result="would_break"}' in would_break
    assert "by (service, identity_provider)" in would_break

    collector = ShadowCollector(
        lambda: ({WOULD_BREAK: 1}, {(WOULD_BREAK, "orders", "auth0"): 1}), "8a41be55", 1.0)
    exported = {s.name: set(s.labels) for family in collector.collect() for s in family.samples}
    for rule in rules.values():
        expr = rule["expr"]
        for name, matchers in re.findall(r"(tokensmith_\w+)(\{[^}]*\})?", expr):
            assert name in exported, (rule["alert"], name)
            for label, value in re.findall(r'(\w+)=~?"([^"]*)"', matchers):
                assert label in exported[name]
                if label == "result":
                    assert set(value.split("|")) <= set(RESULTS), value
        for by in re.findall(r"by \(([^)]*)\)", expr):
            assert {b.strip() for b in by.split(",")} <= set().union(*exported.values())
