"""Starts the whole assistant: action server, Rasa server and the shop page; Ctrl-C stops all.

`make run` calls this after it has built the envs, the data, the model and the indexes.
The tests use `Stack` too, with their own ports and files. Standard library only, so it runs
under either environment's Python.

Environment (all optional):
  SHOP_RASA_PORT (5005), SHOP_ACTIONS_PORT (5055), SHOP_WEB_PORT (8080), SHOP_HOST (127.0.0.1)
  RASA_AUTH_TOKEN      token for Rasa's HTTP API; a random one is made when unset
  SHOP_ALLOWED_ORIGINS CORS / socket.io origins (default: the shop page's origin)
  SHOP_DATABASE_URL    the shop DB (default sqlite:///data/shop.db)
  RASA_TRACKER_DB      the SQLite tracker store file (default data/tracker.db)
  SHOP_STORE           `sqlite` (default) or `postgres`: Postgres tracker store + Redis lock
                       store (endpoints.production.yml) and the shop DB on Postgres too.
                       Then SHOP_PG_HOST/PORT/DB/USER/PASSWORD and SHOP_REDIS_HOST/PORT/DB apply.
  SHOP_LOG_LEVEL       `debug` runs both servers with --debug (emails and order ids are still
                       masked in every log line: shop/redaction.py)
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shop.settings import Settings, current, store_env

ROOT = Path(__file__).resolve().parent.parent
RASA_BIN = ROOT / ".venv-rasa" / "bin" / "rasa"
ACTIONS_PY = ROOT / ".venv-actions" / "bin" / "python"
DEFAULT_MODEL = ROOT / "models" / "rasa" / "shop.tar.gz"


def action_workers(configured: int, cores: int | None) -> int:
    """Action server processes: `SHOP_ACTION_WORKERS`, or one per four cores. Measured under
    `make bench-load` on two cores, the Rasa server (one process: Rasa allows more only with a
    Redis lock store) filled one core while one action worker used about 0.4 of the other, so
    more workers only pay where several Rasa servers share the action server."""
    return configured if configured > 0 else max(1, (cores or 1) // 4)


def free_port() -> int:
    """A port nothing listens on now, for servers started beside a running stack (tests, benchmarks)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StackError(RuntimeError):
    pass


def _chroma_problem(folder: Path, collection: str, what: str, rebuild: str) -> str | None:
    stamp, database = folder / f"{collection}.stamp", folder / "chroma.sqlite3"
    if not stamp.exists() or not database.exists():
        return f"the {what} {folder} is missing: run `{rebuild}`"
    with database.open("rb") as handle:
        if handle.read(16) != b"SQLite format 3\x00":
            return f"the {what} {database} is corrupt: run `rm -rf {folder} && {rebuild}`"
    return None


def artifact_problems(model: Path, env: Mapping[str, str]) -> list[str]:
    """What is missing or unreadable among the trained artifacts, each with the command that
    rebuilds it: checked before any server starts, so the shopper never meets a half-started bot."""
    problems = []
    if not model.exists():
        problems.append(f"the Rasa model {model} is missing: run `make train`")
    else:
        try:
            with tarfile.open(model, "r:gz") as archive:
                if not any(name.endswith("metadata.json") for name in archive.getnames()):
                    raise tarfile.TarError("no metadata.json")
        except (tarfile.TarError, OSError, EOFError) as exc:
            problems.append(f"the Rasa model {model} is corrupt ({exc}): run `rm {model} && make train`")
    kb = Path(env.get("SHOP_KB_PATH") or ROOT / "models" / "kb")
    problem = _chroma_problem(kb, env.get("SHOP_KB_COLLECTION") or "shop_kb", "knowledge-base index", "make index")
    if problem:
        problems.append(problem)
    products = Path(env.get("SHOP_PRODUCT_INDEX_PATH") or ROOT / "models" / "products")
    problem = _chroma_problem(products, env.get("SHOP_PRODUCT_COLLECTION") or "products", "product index", "make index")
    if problem:
        problems.append(problem)
    recommender = Path(env.get("SHOP_RECOMMENDER_PATH") or ROOT / "models" / "recommender")
    weights, meta = recommender / "recommender.safetensors", recommender / "recommender.json"
    if not weights.exists() or not meta.exists():
        problems.append(f"the recommender model {recommender} is missing: run `make train-recommender`")
    else:
        try:
            json.loads(meta.read_text(encoding="utf-8"))
            with weights.open("rb") as handle:
                header = int.from_bytes(handle.read(8), "little")
                if header > 100_000_000:
                    raise ValueError("bad header length")
                json.loads(handle.read(header))  # a safetensors file starts with its JSON header
        except (ValueError, OSError, MemoryError, OverflowError) as exc:
            problems.append(
                f"the recommender model {recommender} is corrupt ({type(exc).__name__}): "
                f"run `rm -rf {recommender} && make train-recommender`"
            )
    return problems


def _wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise StackError(f"process exited with code {proc.returncode} before {url} answered; log {log}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise StackError(f"{url} did not answer within {timeout:.0f}s; see {log}")


@dataclass
class Stack:
    """The processes of one running assistant."""

    rasa_port: int = 5005
    actions_port: int = 5055
    web_port: int | None = 8080
    host: str = "127.0.0.1"
    model: Path = DEFAULT_MODEL
    log_dir: Path = ROOT / "data" / "logs"
    env: Mapping[str, str] = field(default_factory=dict)
    auth_token: str = field(default_factory=lambda: current().rasa_auth_token or secrets.token_urlsafe(24))
    # The action server runs actions only for the holder of this secret: the Rasa server.
    action_secret: str = field(default_factory=lambda: current().action_secret or secrets.token_urlsafe(32))
    endpoints: Path | None = None
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def actions_url(self) -> str:
        return f"http://{self.host}:{self.actions_port}"

    @property
    def web_url(self) -> str | None:
        return f"http://{self.host}:{self.web_port}" if self.web_port else None

    def _env(self) -> dict[str, str]:
        env = {**os.environ, **self.env}
        env.update(store_env(env))
        # One compute thread per server: on a small machine the Rasa server and the action server
        # share the cores, and BLAS threads spinning against each other multiply latency.
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(name, "1")
        env.setdefault("HF_HUB_OFFLINE", "1")
        env.setdefault("TRANSFORMERS_OFFLINE", "1")
        env.setdefault("RASA_TELEMETRY_ENABLED", "false")
        env.setdefault("ANONYMIZED_TELEMETRY", "False")
        env.setdefault("PYTHONPATH", str(ROOT))
        env.setdefault("RASA_TRACKER_DB", str(ROOT / "data" / "tracker.db"))
        env["ACTION_SERVER_URL"] = f"{self.actions_url}/webhook"
        origins = [o for o in [self.web_url, f"http://localhost:{self.web_port}" if self.web_port else None] if o]
        env.setdefault("SHOP_ALLOWED_ORIGINS", " ".join(origins) or self.rasa_url)
        env["RASA_AUTH_TOKEN"] = self.auth_token
        env["SHOP_ACTION_SECRET"] = self.action_secret
        return env

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        handle = log.open("ab")
        # A new session per child, so Ctrl-C in the terminal reaches only us and we stop them in order.
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs[name] = proc
        return proc

    def check_prerequisites(self) -> None:
        problems = []
        if not RASA_BIN.exists() or not ACTIONS_PY.exists():
            problems.append("the Python environments (.venv-rasa, .venv-actions) are missing: run `make envs`")
        problems += artifact_problems(Path(self.model), self._env())
        if problems:
            raise StackError("cannot start:\n  - " + "\n  - ".join(problems))

    def start_actions(self, timeout: float = 120) -> None:
        env = self._env()
        argv = [str(ACTIONS_PY), "-m", "actions.server", "--host", self.host, "--port", str(self.actions_port)]
        argv += ["--workers", str(action_workers(Settings.from_env(env).action_workers, os.cpu_count()))]
        if env.get("SHOP_LOG_LEVEL", "").lower() == "debug":
            argv.append("--debug")
        proc = self._spawn("actions", argv, env)
        _wait_http(f"{self.actions_url}/health", timeout, proc, self.log_dir / "actions.log")

    def endpoints_file(self, env: Mapping[str, str]) -> Path:
        if self.endpoints:
            return self.endpoints
        postgres = env.get("SHOP_STORE") == "postgres"
        return ROOT / ("endpoints.production.yml" if postgres else "endpoints.yml")

    def start_rasa(self, timeout: float = 300, name: str = "rasa", port: int | None = None) -> str:
        """Starts a Rasa server (another one too, on its own port) and returns its URL."""
        port = port or self.rasa_port
        url = f"http://{self.host}:{port}"
        env = self._env()
        argv = [
            str(RASA_BIN),
            "run",
            "--model",
            str(self.model),
            "--endpoints",
            str(self.endpoints_file(env)),
            "--credentials",
            str(ROOT / "credentials.yml"),
            "--port",
            str(port),
            # One argument with "=": a token may begin with "-", which argparse would take for an option.
            "--interface",
            self.host,
            "--enable-api",
            f"--auth-token={self.auth_token}",
            "--cors",
            *env["SHOP_ALLOWED_ORIGINS"].split(),
        ]
        if env.get("SHOP_LOG_LEVEL", "").lower() == "debug":
            argv.append("--debug")
        proc = self._spawn(name, argv, env)
        _wait_http(f"{url}/", timeout, proc, self.log_dir / f"{name}.log")
        return url

    def start_web(self, timeout: float = 30) -> None:
        web = ROOT / "bot" / "web" / "serve.py"
        if not self.web_port or not web.exists():
            self.web_port = None
            return
        env = self._env()
        env["SHOP_RASA_URL"] = self.rasa_url
        proc = self._spawn(
            "web", [sys.executable, "-m", "bot.web.serve", "--host", self.host, "--port", str(self.web_port)], env
        )
        _wait_http(f"{self.web_url}/", timeout, proc, self.log_dir / "web.log")

    def start(self) -> None:
        self.check_prerequisites()
        try:
            self.start_actions()
            self.start_rasa()
            self.start_web()
        except BaseException:
            self.stop()
            raise

    def stop_one(self, name: str, timeout: float = 20) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        # Reverse start order: nobody is talking to the action server once Rasa is gone.
        for name in reversed(list(self.procs)):
            self.stop_one(name)

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> int:
    settings = current()
    stack = Stack(
        rasa_port=settings.rasa_port, actions_port=settings.actions_port, web_port=settings.web_port, host=settings.host
    )
    if not settings.action_secret:
        # `make shell` in another terminal talks to this action server: it reads the secret here.
        secret_file = ROOT / "data" / "action-secret"
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        secret_file.touch(mode=0o600)
        secret_file.write_text(stack.action_secret + "\n", encoding="utf-8")
    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    # Installed for SIGINT too: a shell that starts `make run` in the background (a script, a
    # supervisor) hands it SIGINT as ignored, and Python then never raises KeyboardInterrupt.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        print("Starting the action server and the Rasa server (the first start takes ~30 s)...", flush=True)
        stack.start()
        print(
            "\nShop Assistant is running:\n"
            f'  REST webhook   POST {stack.rasa_url}/webhooks/rest/webhook  {{"sender": "me", "message": "hi"}}\n'
            f"  socket.io      {stack.rasa_url}/socket.io\n"
            f"  HTTP API       {stack.rasa_url}  (add ?token="
            f"{'$RASA_AUTH_TOKEN' if settings.rasa_auth_token else stack.auth_token})\n"
            f"  action server  {stack.actions_url}  (only the Rasa server: it sends SHOP_ACTION_SECRET)\n"
            + (f"  shop page      {stack.web_url}/\n" if stack.web_url else "")
            + f"  agent console  {stack.rasa_url}/agent  (accounts: .venv-actions/bin/python -m shop agents add NAME)\n"
            + f"  terminal chat  make shell   (logs in {stack.log_dir})\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        while True:
            for name, proc in list(stack.procs.items()):
                if proc.poll() is not None:
                    raise StackError(
                        f"{name} exited with code {proc.returncode}; see {stack.log_dir / (name + '.log')}"
                    )
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping...", flush=True)
        return 0
    except StackError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        stack.stop()
        print("Stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
