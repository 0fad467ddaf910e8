"""The environment build: clear message without the interpreter, seconds when up to date."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_missing_python_is_explained(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no pyenv on PATH
    result = subprocess.run(
        ["bash", "scripts/find_python.sh", "3.99"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "Python 3.99 was not found" in result.stderr
    assert "pyenv install 3.99" in result.stderr and "PYTHON399" in result.stderr


def test_override_variable_wins(tmp_path):
    env = {**os.environ, "PYTHON310": "/custom/python3.10"}
    result = subprocess.run(
        ["bash", "scripts/find_python.sh", "3.10"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.stdout.strip() == "/custom/python3.10"


def test_rebuild_when_nothing_changed_takes_seconds():
    start = time.monotonic()
    result = subprocess.run(["make", "envs"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - start < 10
