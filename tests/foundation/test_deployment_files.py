"""docker-compose.yml is validated offline (no Docker engine here), and the
deployment settings pass Django's own deployment checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_docker_compose_file_is_valid():
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose (Debian package) is missing: `make test` installs it to validate "
                    "docker-compose.yml offline")
    env = {**os.environ, "DJANGO_SECRET_KEY": "x"}
    result = subprocess.run([exe, "-f", "docker-compose.yml", "config", "-q"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    services = subprocess.run([exe, "-f", "docker-compose.yml", "config", "--services"], cwd=ROOT, env=env,
                              capture_output=True, text=True).stdout.split()
    assert {"postgres", "redis", "web", "worker", "scheduler"} <= set(services)


def test_production_settings_pass_check_deploy(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {**env, "DJANGO_SETTINGS_MODULE": "gimmanager.settings", "DJANGO_SECRET_KEY": "s" * 60 + "Zq9!",
           "GIM_SSL_REDIRECT": "true", "GIM_HSTS_SECONDS": "31536000", "GIM_VAR_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", ["Dockerfile", "docker-compose.yml", "scripts/run.py", "drills/stack.py"])
def test_gunicorn_keeps_idle_connections_longer_than_the_live_poll(path):
    """gunicorn's default keep-alive (2 s) equals the console's poll period: the server would close
    idle connections just as the browser reuses them."""
    text = (ROOT / path).read_text()
    assert "gunicorn" in text
    for line in (ln for ln in text.splitlines() if '"gunicorn"' in ln):
        start = text.index(line)
        command = text[start:text.index("]", start)]
        assert '"--keep-alive", "5"' in command, f"{path}: {command}"
