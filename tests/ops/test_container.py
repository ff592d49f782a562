"""The image, compose.yaml and the lock files, checked without a Docker daemon: every service
runs a real roster command with settings Roster takes, and the image installs what the lock pins."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from packaging.requirements import Requirement

from roster import cli
from roster.config import Settings, load_settings
from roster.mail.transport import parse_smtp_url

ROOT = Path(__file__).resolve().parents[2]
ROSTER_SERVICES = ("server", "worker")


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def dockerfile() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_every_roster_service_runs_a_real_command() -> None:
    services = compose()["services"]
    assert set(services) == {"server", "worker", "postgres", "redis", "mailpit"}
    group: Any = typer.main.get_command(cli.app)
    for name in ROSTER_SERVICES:
        service = services[name]
        assert service["build"] == "."
        command, *args = service["command"]
        found = group.get_command(group.make_context("roster", [command], resilient_parsing=True), command)
        assert found is not None, f"{name}: roster has no command {command!r}"
        found.make_context(command, list(args))  # unknown options or bad values raise here


def test_the_services_settings_are_ones_roster_takes(monkeypatch: pytest.MonkeyPatch) -> None:
    known = {f"ROSTER_{name.upper()}" for name in Settings.__dataclass_fields__}
    for name in ROSTER_SERVICES:
        environment = compose()["services"][name]["environment"]
        assert set(environment) <= known, set(environment) - known
        for variable, value in environment.items():
            monkeypatch.setenv(variable, re.sub(r"\$\{\w+:-(.*)\}", r"\1", value))
        settings = load_settings()
        assert settings.database_url.startswith("postgresql://")
        assert not settings.inline_worker  # the worker service sends, not the servers
        assert settings.smtp_url is not None
        assert parse_smtp_url(settings.smtp_url).host == "mailpit"
        assert compose()["services"][name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        # Every process seals with one key: the key file lies on a volume they share.
        assert settings.key_file == "/data/roster.key"
        assert "roster-data:/data" in compose()["services"][name]["volumes"]


def test_the_image_runs_as_a_user_and_checks_its_health() -> None:
    lines = dockerfile()
    assert lines[0] == "FROM python:3.11-slim"
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users
    assert users[-1] not in ("root", "0")
    health = next(line for line in lines if line.startswith("HEALTHCHECK"))
    assert "http://127.0.0.1:8000/healthz" in health
    assert "ROSTER_PORT=8000" in " ".join(lines)
    assert 'ENTRYPOINT ["roster"]' in lines
    assert "RUN pip install -r requirements/base.txt" in lines
    assert any(line.startswith("RUN pip install --no-deps .") for line in lines)


def _pins(lock: Path) -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", lock.read_text(), re.M)
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in found}


@pytest.mark.parametrize(("lock", "extra"), [("base", None), ("dev", "dev")])
def test_the_lock_pins_every_dependency_within_its_range(lock: str, extra: str | None) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + (project["optional-dependencies"][extra] if extra else [])
    pins = _pins(ROOT / "requirements" / f"{lock}.txt")
    for line in wanted:
        requirement = Requirement(line)
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in pins, f"{name} is not in requirements/{lock}.txt: run scripts/lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (name, pins[name])


def test_the_package_carries_its_pages_docs_assets_and_migrations(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(tmp_path), str(ROOT)],
        check=True,
    )
    (wheel,) = tmp_path.glob("roster-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "roster/web/static/swagger-ui/swagger-ui-bundle.js" in names
    assert "roster/web/templates/preferences.html" in names
    assert any(name.startswith("roster/storage/migrations/versions/") for name in names)


def test_the_image_installs_the_versions_the_tests_ran_with() -> None:
    base, dev = _pins(ROOT / "requirements" / "base.txt"), _pins(ROOT / "requirements" / "dev.txt")
    assert {name: version for name, version in base.items() if dev.get(name) != version} == {}
