"""Renders both overlays and checks the invariants the deployment relies on.

    .venv/bin/python deploy/k8s/verify.py

Needs `kustomize` or `kubectl` on PATH and PyYAML (in the project's venv); no
cluster. It checks what a cluster would only reveal at run time: exactly the
services that deploy/services.toml lists as existing are deployed (a manifest
naming any other fails), the ingress mirrors the registry's route table (the
local gateway's) plus api-docs' /openapi.json and /docs, topics match contracts/topics.py and the
shared settings, no consumer workload can scale past the partition count, every
process runs locked down with its probes, every reference to a ConfigMap or
Secret resolves, and the Grafana dashboards are generated and use real metrics.
Exit status 1 on any failure.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

try:
    import yaml
except ModuleNotFoundError:  # not a dependency of the services themselves
    sys.exit("verify.py needs PyYAML: pip install pyyaml (any venv; the project's gives the settings check too)")

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
sys.path.insert(0, str(REPO))

sys.path.insert(0, str(REPO / "deploy"))

import service_registry  # noqa: E402
from contracts import topics as topic_names  # noqa: E402

OVERLAYS = ("local-kind", "production")
REGISTRY = service_registry.load()
MODULES = {s.name: s.module for s in REGISTRY}
EXISTING = {s.name for s in REGISTRY if s.exists}
PLANNED = {s.name for s in REGISTRY if not s.exists}
HTTP_SERVICES = {s.name for s in REGISTRY if s.exists and s.http_api}
WORKERS = {s.name for s in REGISTRY if s.exists and not s.http_api}
# Served by api-docs (the gateway binary), not by a service.
DOCS_SERVICE = "api-docs"
DOCS_PATHS = ("/openapi.json", "/docs")
# Secrets a production cluster must hold before the apply (base/secret-templates/).
EXTERNAL_SECRETS = {
    "platform-admin": {"PLATFORM_ADMIN_CLIENT_ID", "PLATFORM_ADMIN_CLIENT_SECRET"},
    "provider-mongodb-root": {"username", "password"},
    "provider-mongodb-app": {"username", "password"},
    "provider-mongodb-keyfile": {"keyfile"},
}
THIRTY_DAYS_MS = 30 * 24 * 3600 * 1000

failures: list[str] = []


def check(ok: bool, message: str) -> None:
    if not ok:
        failures.append(message)


def render(overlay: str) -> list[dict]:
    path = K8S / "overlays" / overlay
    if shutil.which("kustomize"):
        cmd = ["kustomize", "build", str(path)]
    elif shutil.which("kubectl"):
        cmd = ["kubectl", "kustomize", str(path)]
    else:
        sys.exit("needs kustomize or kubectl on PATH")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def base_name(name: str) -> str:
    """platform-config-8697hc4m66 -> platform-config (kustomize's hash suffix)."""
    return re.sub(r"-[a-z0-9]{10}$", "", name)


def verify(overlay: str, docs: list[dict]) -> None:
    where = f"[{overlay}]"
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in by_kind(docs, "ConfigMap")}
    secrets = {d["metadata"]["name"]: set((d.get("data") or {}) | (d.get("stringData") or {}))
               for d in by_kind(docs, "Secret")}
    platform = next((data for name, data in configmaps.items() if base_name(name) == "platform-config"), None)
    check(platform is not None, f"{where} no platform-config ConfigMap")
    platform = platform or {}
    partitions = int(platform.get("KAFKA_TOPIC_PARTITIONS", 0))
    replication = int(platform.get("KAFKA_TOPIC_REPLICATION_FACTOR", 0))

    # -- nothing is deployed that does not exist (deploy/services.toml)
    for d in docs:
        meta = d["metadata"]
        named = {meta["name"], (meta.get("labels") or {}).get("app.kubernetes.io/name")}
        target = ((d.get("spec") or {}).get("scaleTargetRef") or {}).get("name")
        for name in sorted((named | {target}) & PLANNED):
            failures.append(f"{where} {d['kind']}/{meta['name']} names {name}, which deploy/services.toml "
                            "does not list as existing (exists = false)")  # fmt: skip

    for d in docs:
        if d["kind"] not in ("Namespace",) and not d["kind"].startswith("Cluster"):
            check(d["metadata"].get("namespace") == "provider-platform",
                  f"{where} {d['kind']}/{d['metadata']['name']} not in namespace provider-platform")

    # -- secrets: production generates none; local-kind only the known ones
    if overlay == "production":
        check(not secrets, f"{where} Secrets rendered into production: {sorted(secrets)}")
        available_secrets = EXTERNAL_SECRETS
    else:
        check({base_name(n) for n in secrets} == set(EXTERNAL_SECRETS),
              f"{where} local Secrets {sorted(secrets)} != {sorted(EXTERNAL_SECRETS)}")
        available_secrets = {base_name(n): keys for n, keys in secrets.items()} | {n: k for n, k in secrets.items()}

    # -- ingress mirrors the local gateway's table (the registry's), plus the docs
    routes = service_registry.gateway_routes(REGISTRY) + [{"prefix": p, "service": DOCS_SERVICE} for p in DOCS_PATHS]
    ingresses = by_kind(docs, "Ingress")
    check(len(ingresses) == 1, f"{where} expected one Ingress, found {len(ingresses)}")
    services = {d["metadata"]["name"]: d for d in by_kind(docs, "Service")}
    for ing in ingresses:
        rules = ing["spec"]["rules"]
        check(len(rules) == 1, f"{where} Ingress has {len(rules)} rules: one base URL expected")
        paths = rules[0]["http"]["paths"]
        got = [(p["path"], p["backend"]["service"]["name"]) for p in paths]
        want = [(r["prefix"], r["service"]) for r in routes]
        check(sorted(got) == sorted(want), f"{where} Ingress paths differ from deploy/services.toml: "
              f"missing {sorted(set(want) - set(got))}, extra {sorted(set(got) - set(want))}")
        for p in paths:
            expected_type = "ImplementationSpecific" if "." in p["path"] else "Prefix"
            check(p["pathType"] == expected_type, f"{where} {p['path']}: pathType {p['pathType']} != {expected_type}")
            svc = services.get(p["backend"]["service"]["name"])
            check(svc is not None, f"{where} Ingress backend {p['backend']['service']['name']} has no Service")
            if svc:
                names = {port.get("name") for port in svc["spec"]["ports"]}
                check(p["backend"]["service"]["port"].get("name") in names,
                      f"{where} Ingress backend port {p['backend']['service']['port']} not on Service {svc['metadata']['name']}")
        if overlay == "production":
            check(bool(ing["spec"].get("tls")), f"{where} production Ingress without TLS")
            check("cert-manager.io/cluster-issuer" in ing["metadata"].get("annotations", {}),
                  f"{where} production Ingress without cert-manager annotation")

    # -- topics
    want_topics = set(topic_names.ALL) | {topic_names.dead_letter_topic(t) for t in topic_names.ALL}
    kafka_topics = by_kind(docs, "KafkaTopic")
    got_topics = {t["spec"].get("topicName", t["metadata"]["name"]) for t in kafka_topics}
    check(got_topics == want_topics, f"{where} KafkaTopics {sorted(got_topics ^ want_topics)} differ from contracts/topics.py")
    for t in kafka_topics:
        name = t["spec"].get("topicName", t["metadata"]["name"])
        spec = t["spec"]
        check(spec["partitions"] == partitions, f"{where} {name}: {spec['partitions']} partitions != KAFKA_TOPIC_PARTITIONS {partitions}")
        check(spec["replicas"] == replication, f"{where} {name}: {spec['replicas']} replicas != KAFKA_TOPIC_REPLICATION_FACTOR {replication}")
        retention = int(spec["config"]["retention.ms"])
        if name.endswith(".dlq"):
            check(retention == THIRTY_DAYS_MS, f"{where} {name}: DLQ retention {retention} != 30 days")
        else:
            check(retention == -1, f"{where} {name}: event topic retention {retention} != -1 (projections replay from zero)")
        check(int(spec["config"]["min.insync.replicas"]) == min(2, replication),
              f"{where} {name}: min.insync.replicas {spec['config']['min.insync.replicas']}")

    pools = by_kind(docs, "KafkaNodePool")
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    check(brokers >= replication, f"{where} {brokers} brokers < replication factor {replication}")
    if overlay == "production":
        check(brokers == 3 and replication == 3, f"{where} production needs 3 brokers and RF 3")
        kafka = by_kind(docs, "Kafka")[0]["spec"]["kafka"]["config"]
        check(int(kafka["min.insync.replicas"]) == 2, f"{where} production min.insync.replicas != 2")

    # -- MongoDB: hosts in the ConfigMap = members of the StatefulSet
    sts = {d["metadata"]["name"]: d for d in by_kind(docs, "StatefulSet")}
    mongo = sts.get("provider-mongodb")
    check(mongo is not None, f"{where} no provider-mongodb StatefulSet")
    if mongo:
        members = mongo["spec"]["replicas"]
        hosts = platform.get("MONGODB_HOSTS", "").split(",")
        want_hosts = [f"provider-mongodb-{i}.provider-mongodb:27017" for i in range(members)]
        check(hosts == want_hosts, f"{where} MONGODB_HOSTS {hosts} != members {want_hosts}")
        job = next((j for j in by_kind(docs, "Job") if j["metadata"]["name"] == "provider-mongodb-init"), None)
        check(job is not None, f"{where} no replica-set init Job")
        if job:
            env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
            grants = (env.get("PLATFORM_SERVICES") or "").split()
            check(set(grants) == EXISTING, f"{where} init Job PLATFORM_SERVICES {grants} != existing services {sorted(EXISTING)}")
            check(env.get("MONGODB_REPLICAS") == str(members), f"{where} init Job MONGODB_REPLICAS {env.get('MONGODB_REPLICAS')} != {members}")
        check("replicaSet=rs0" in platform.get("MONGODB_OPTIONS", ""), f"{where} MONGODB_OPTIONS lacks replicaSet=rs0")
        if overlay == "production":
            check(members == 3, f"{where} production MongoDB has {members} members")

    # -- processes
    deployments = {d["metadata"]["name"]: d for d in by_kind(docs, "Deployment")}
    check(set(deployments) == HTTP_SERVICES | WORKERS | {DOCS_SERVICE},
          f"{where} Deployments {sorted(deployments)} != the existing services of deploy/services.toml + {DOCS_SERVICE}")
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in by_kind(docs, "HorizontalPodAutoscaler")}
    pdbs = {p["metadata"]["name"] for p in by_kind(docs, "PodDisruptionBudget")}
    verify_api_docs(where, deployments.get(DOCS_SERVICE), configmaps, services)
    for name, dep in deployments.items():
        if name not in EXISTING:
            continue
        spec = dep["spec"]["template"]["spec"]
        (c,) = spec["containers"]
        label = f"{where} Deployment {name}"
        check(c["command"] == ["python", "-m", MODULES[name]], f"{label}: command {c['command']}")
        main = REPO.joinpath(*MODULES[name].split("."), "__main__.py")
        check(main.exists(), f"{label}: {main.relative_to(REPO)} does not exist")
        env = {e["name"]: e for e in c.get("env", [])}
        check(env.get("PORT", {}).get("value") == "8000" and env.get("HOST", {}).get("value") == "0.0.0.0",
              f"{label}: PORT=8000 / HOST=0.0.0.0 missing")
        check(any(p["containerPort"] == 8000 and p.get("name") == "http" for p in c["ports"]), f"{label}: no port http/8000")
        check(c["livenessProbe"]["httpGet"]["path"] == "/healthz", f"{label}: liveness not /healthz")
        check(c["readinessProbe"]["httpGet"]["path"] == "/readyz", f"{label}: readiness not /readyz")
        check(spec.get("terminationGracePeriodSeconds") == 30, f"{label}: terminationGracePeriodSeconds != 30")
        check(spec.get("enableServiceLinks") is False, f"{label}: service links enabled")
        ann = dep["spec"]["template"]["metadata"].get("annotations", {})
        check(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == "8000",
              f"{label}: prometheus annotations missing")
        res = c.get("resources", {})
        check({"cpu", "memory"} <= set(res.get("requests", {})) and "memory" in res.get("limits", {}),
              f"{label}: resources incomplete {res}")
        psc, csc = spec.get("securityContext", {}), c.get("securityContext", {})
        check(psc.get("runAsNonRoot") is True and psc.get("runAsUser", 0) != 0, f"{label}: not runAsNonRoot")
        check(csc.get("readOnlyRootFilesystem") is True, f"{label}: root filesystem writable")
        check(csc.get("allowPrivilegeEscalation") is False, f"{label}: privilege escalation allowed")
        check(csc.get("capabilities", {}).get("drop") == ["ALL"], f"{label}: capabilities not dropped")
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        empty_dirs = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        check(mounts.get("/tmp") in empty_dirs, f"{label}: /tmp is not an emptyDir")
        if name in WORKERS:
            datadir = env.get("FAUST_DATADIR", {}).get("value")
            check(datadir is not None and mounts.get(datadir) in empty_dirs,
                  f"{label}: faust data dir {datadir} is not on a writable volume")
        check(name in pdbs, f"{label}: no PodDisruptionBudget")

        # scaling bound: every process consumes Kafka; a group uses <= partitions consumers
        replicas = dep["spec"].get("replicas")
        hpa = hpas.get(name)
        top = hpa["spec"]["maxReplicas"] if hpa else replicas
        check(top is not None, f"{label}: neither replicas nor an HPA")
        if top is not None:
            check(top <= partitions, f"{label}: up to {top} replicas > {partitions} partitions")
        if hpa:
            check(replicas is None, f"{label}: has spec.replicas although an HPA owns it")
        if overlay == "production" and name in HTTP_SERVICES:
            check(hpa is not None, f"{label}: no HPA in production")
        if overlay == "local-kind":
            check(replicas == 1, f"{label}: {replicas} replicas in local-kind")

        # references to ConfigMaps and Secrets resolve; $(VAR) expansions are defined
        defined: set[str] = set()
        for ef in c.get("envFrom", []):
            ref = ef.get("configMapRef", {}).get("name")
            check(ref in configmaps, f"{label}: envFrom ConfigMap {ref} not rendered")
            defined |= set(configmaps.get(ref, {}))
        for e in c.get("env", []):
            for var in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", e.get("value", "") or ""):
                check(var in defined, f"{label}: {e['name']} uses $({var}) before it is defined")
            src = e.get("valueFrom", {})
            if "secretKeyRef" in src:
                ref = src["secretKeyRef"]
                check(ref["key"] in available_secrets.get(ref["name"], set()),
                      f"{label}: Secret {ref['name']}/{ref['key']} unknown")
                check(not ref.get("optional"), f"{label}: Secret {ref['name']} optional")
            if "configMapKeyRef" in src:
                ref = src["configMapKeyRef"]
                check(ref["key"] in configmaps.get(ref["name"], {}), f"{label}: ConfigMap {ref['name']}/{ref['key']} unknown")
            defined.add(e["name"])
        check("MONGODB_URI" in defined, f"{label}: no MONGODB_URI")

    for name in sorted(HTTP_SERVICES | WORKERS):
        svc = services.get(name)
        check(svc is not None and svc["spec"]["ports"][0]["port"] == 8000, f"{where} Service {name} missing or not on 8000")
    check(platform.get("IDENTITY_URL") == "http://identity:8000", f"{where} IDENTITY_URL {platform.get('IDENTITY_URL')}")
    check(platform.get("KAFKA_BOOTSTRAP_SERVERS") == "provider-kafka-kafka-bootstrap:9092",
          f"{where} KAFKA_BOOTSTRAP_SERVERS {platform.get('KAFKA_BOOTSTRAP_SERVERS')}")

    # -- every platform-config key is a settings field of some process, or composes one
    fields = settings_fields()
    composed = {"MONGODB_HOSTS", "MONGODB_OPTIONS"}
    for key in platform if fields is not None else ():
        if key.lower() not in fields and key not in composed:
            print(f"note {where}: platform-config key {key} is read by no settings class yet")

    # -- dashboards ship
    dash = next((data for name, data in configmaps.items() if name == "provider-platform-grafana-dashboards"), {})
    check({"provider-platform-http.json", "provider-platform-events.json"} <= set(dash),
          f"{where} dashboards ConfigMap incomplete: {sorted(dash)}")


def verify_api_docs(where: str, dep: dict | None, configmaps: dict[str, dict], services: dict[str, dict]) -> None:
    """api-docs runs the gateway over exactly the registry's routes and the existing HTTP services."""
    import json

    label = f"{where} Deployment {DOCS_SERVICE}"
    if dep is None:
        return  # the Deployments check above names it
    spec = dep["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    check(c["image"].split(":")[0].endswith("provider-platform-gateway"), f"{label}: image {c['image']}")
    args = dict(a.lstrip("-").split("=", 1) for a in c.get("args", []))
    check(args.get("listen") == "0.0.0.0:8000", f"{label}: -listen {args.get('listen')}")
    mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    config = next((base_name(v["configMap"]["name"]) for v in volumes.values() if "configMap" in v), None)
    check(config == DOCS_SERVICE, f"{label}: does not mount ConfigMap {DOCS_SERVICE}")
    data = next((d for n, d in configmaps.items() if base_name(n) == DOCS_SERVICE), {})
    mount = next((mounts.get(n) for n, v in volumes.items() if "configMap" in v), None)
    for flag, key in (("routes", "routes.json"), ("upstreams", "upstreams.json")):
        check(args.get(flag) == f"{mount}/{key}", f"{label}: -{flag} {args.get(flag)} is not {mount}/{key}")
    try:
        routes, upstreams = json.loads(data.get("routes.json", "null")), json.loads(data.get("upstreams.json", "null"))
    except ValueError as exc:
        check(False, f"{label}: ConfigMap {DOCS_SERVICE} is not JSON: {exc}")
        return
    check(routes == service_registry.gateway_routes(REGISTRY),
          f"{label}: routes.json differs from deploy/services.toml (python deploy/service_registry.py --routes)")
    want = {n: f"http://{n}:8000" for n in sorted(HTTP_SERVICES)}
    check(upstreams == want, f"{label}: upstreams.json {upstreams} != {want}")
    for name in upstreams or {}:
        check(name in services, f"{label}: upstream {name} has no Service")
    check(c["readinessProbe"]["httpGet"]["path"] == "/healthz", f"{label}: readiness not /healthz")
    csc = c.get("securityContext", {})
    check(spec.get("securityContext", {}).get("runAsNonRoot") is True, f"{label}: not runAsNonRoot")
    check(csc.get("readOnlyRootFilesystem") is True and csc.get("allowPrivilegeEscalation") is False
          and csc.get("capabilities", {}).get("drop") == ["ALL"], f"{label}: not locked down")
    check(DOCS_SERVICE in services, f"{where} no Service {DOCS_SERVICE}")


def settings_fields() -> set[str] | None:
    """Field names of PlatformSettings and of every service's settings class."""
    import importlib

    try:
        from infra.settings import PlatformSettings
    except ModuleNotFoundError as exc:
        print(f"note: settings check skipped ({exc}); run with the project's venv for it")
        return None

    fields = set(PlatformSettings.model_fields)
    for path in (REPO / "services").glob("*/settings.py"):
        module = importlib.import_module(f"services.{path.parent.name}.settings")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, PlatformSettings):
                fields |= set(obj.model_fields)
    return fields


def verify_dashboards() -> None:
    result = subprocess.run([sys.executable, str(REPO / "deploy" / "grafana" / "generate.py"), "--check"],
                            capture_output=True, text=True)
    check(result.returncode == 0, f"dashboards: {result.stdout.strip()} {result.stderr.strip()}")
    sys.path.insert(0, str(REPO / "deploy" / "grafana"))
    import generate  # noqa: PLC0415

    known = generate.PLATFORM_METRICS
    for file_name, build in generate.DASHBOARDS.items():
        board = build()
        ids = [p["id"] for p in board["panels"]]
        check(len(ids) == len(set(ids)), f"{file_name}: duplicate panel ids")
        for panel in board["panels"]:
            for t in panel.get("targets", []):
                expr = t["expr"]
                check(expr.count("(") == expr.count(")"), f"{file_name} '{panel['title']}': unbalanced parentheses")
                for metric in re.findall(r"\b([a-z_]+)\{", expr):
                    check(metric in known, f"{file_name} '{panel['title']}': unknown metric {metric}")
                for metric, matchers in re.findall(r"\b([a-z_]+)\{([^}]*)\}", expr):
                    for lbl in re.findall(r"([a-z_]+)\s*[=!]~?", matchers):
                        check(lbl in known.get(metric, set()), f"{file_name} '{panel['title']}': {metric} has no label {lbl}")


def main() -> int:
    for overlay in OVERLAYS:
        try:
            docs = render(overlay)
        except subprocess.CalledProcessError as exc:
            failures.append(f"[{overlay}] does not render: {exc.stderr.strip()}")
            continue
        verify(overlay, docs)
        print(f"[{overlay}] rendered {len(docs)} objects")
    verify_dashboards()
    for f in failures:
        print("FAIL", f)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
