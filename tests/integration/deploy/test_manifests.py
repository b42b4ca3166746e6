"""What deploy/ ships, checked offline: manifests render, probes and commands exist."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml
from tests.conftest import unavailable
from typer.testing import CliRunner

from wattline.cli.main import app

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"


def rendered_kubernetes() -> list[dict[str, object]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        unavailable("kubectl is not installed")
    assert kubectl is not None
    out = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY / "kubernetes")],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def test_kubernetes_manifests_render_with_probes_budgets_and_autoscaling() -> None:
    docs = rendered_kubernetes()
    kinds = sorted(str(d["kind"]) for d in docs)
    assert kinds.count("PodDisruptionBudget") == 2
    assert kinds.count("HorizontalPodAutoscaler") == 2
    api = next(d for d in docs if d["kind"] == "Deployment")
    container = api["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert all(d["metadata"]["namespace"] == "wattline" for d in docs if d["kind"] != "Namespace")  # type: ignore[index]


def test_every_command_the_deployment_runs_exists() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yml").read_text())
    commands = {tuple(s["command"][:1]) for s in compose["services"].values() if "command" in s}
    runner = CliRunner()
    for (name,) in commands:
        if name in {"collect", "serve"}:
            assert runner.invoke(app, [name, "--help"]).exit_code == 0, name
    units = "".join(p.read_text() for p in (DEPLOY / "systemd").glob("*.service"))
    assert "wattline serve" in units
    assert "wattline collect" in units


def test_the_dockerfile_runs_as_a_user_and_serves_by_default() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "USER wattline" in dockerfile
    assert 'CMD ["serve"]' in dockerfile
