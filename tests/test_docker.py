"""The production stack: the compose file validates and the image is built to the rules."""

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_compose_file_validates_with_every_service():
    assert shutil.which("docker-compose"), "Debian's docker-compose is needed (scripts/test installs it)"
    result = subprocess.run(
        ["docker-compose", "-f", "docker/compose.yaml", "--env-file", "docker/env.example", "config", "--services"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {"db", "redis", "migrate", "web", "worker", "beat"}


def test_compose_refuses_to_start_without_secrets(tmp_path):
    assert shutil.which("docker-compose"), "Debian's docker-compose is needed (scripts/test installs it)"
    (tmp_path / "empty.env").write_text("")
    result = subprocess.run(["docker-compose", "-f", "docker/compose.yaml", "--env-file", str(tmp_path / "empty.env"),
                             "config"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "set " in result.stderr


def test_dockerfile_runs_as_non_root_with_a_healthcheck():
    text = (ROOT / "docker" / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in text
    assert "\nUSER app\n" in text and "HEALTHCHECK" in text and "/goodsassoc/health/" in text
    assert "pip install -r requirements.txt" in text
