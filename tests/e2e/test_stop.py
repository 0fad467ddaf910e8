"""`make run`'s launcher stops everything on Ctrl-C, even when started with SIGINT ignored."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.stack import DEFAULT_MODEL, ROOT
from tests.e2e.conftest import free_port


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_ctrl_c_stops_every_server_even_when_sigint_was_inherited_as_ignored(e2e_dir: Path) -> None:
    if not DEFAULT_MODEL.exists():
        pytest.fail(f"no trained model at {DEFAULT_MODEL}: run `make train` first (make test does)")
    ports = {"SHOP_RASA_PORT": free_port(), "SHOP_ACTIONS_PORT": free_port(), "SHOP_WEB_PORT": free_port()}
    env = {
        **os.environ,
        **{k: str(v) for k, v in ports.items()},
        "SHOP_DATABASE_URL": f"sqlite:///{e2e_dir / 'shop.db'}",
        "RASA_TRACKER_DB": str(e2e_dir / "stop-tracker.db"),
    }
    # A shell running `make run &` from a script hands the launcher SIGINT as ignored.
    launcher = subprocess.Popen(
        [sys.executable, "-m", "bot.stack"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    output: list[str] = []
    try:
        assert launcher.stdout is not None
        for line in launcher.stdout:
            output.append(line)
            if "Press Ctrl-C to stop." in line:
                break
        assert all(_listening(port) for port in ports.values()), "".join(output)
        os.killpg(launcher.pid, signal.SIGINT)
        rest, _ = launcher.communicate(timeout=60)
        output.append(rest)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
    assert launcher.returncode == 0, "".join(output)
    assert "Stopped." in "".join(output)
    deadline = time.monotonic() + 10
    while any(_listening(port) for port in ports.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_listening(port) for port in ports.values()), "a server still listens after Ctrl-C"
