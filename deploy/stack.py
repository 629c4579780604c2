"""`make stack`: docker-compose.yml's services as local processes, without Docker.

    python -m deploy.stack up [--dir DIR] [--detach]   start (foreground unless --detach)
    python -m deploy.stack down [--dir DIR]            stop a detached stack
    python -m deploy.stack plan [--dir DIR]            print what would run, as JSON
    python -m deploy.stack_check                       a fresh stack driven over HTTP, then down

The app services (migrate, web, worker, beat) run the very commands and environment compose
gives them (deploy/compose.py derives them and documents the mapping). The images without a
build are stood in for by local programs: PostgreSQL 15 from the Debian packages (a cluster of
the stack's own, its data in the pgdata volume's folder, made as the postgres image makes it),
redis-server with compose's own command, and deploy/mailsink.py for Mailpit. Data lives under
DIR (var/stack by default), so `down` then `up` keeps it, as compose's volumes do.
"""

import argparse
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from deploy import compose

ROOT = compose.ROOT
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)
# The container ports each stand-in listens on, as its image documents them.
IMAGE_PORTS = {"postgres": [5432], "redis": [6379], "mailpit": [1025, 8025]}
AS_POSTGRES = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def container_ports(name: str, service: dict) -> list[int]:
    ports = list(IMAGE_PORTS.get(service.get("image", "").split("/")[-1].split(":")[0], []))
    for entry in service.get("ports") or []:
        target = entry["target"] if isinstance(entry, dict) else str(entry).split(":")[-1]
        ports.append(int(str(target).split("/")[0]))
    return sorted(set(ports))


def _published(service: dict) -> list[tuple[int, int]]:
    """(host port, container port) pairs of a service's ports: list."""
    pairs = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            pairs.append((int(entry.get("published", entry["target"])), int(entry["target"])))
        else:
            parts = str(entry).split(":")
            pairs.append((int(parts[-2] if len(parts) > 1 else parts[-1]), int(parts[-1])))
    return pairs


def mapping_for(document: dict, run_dir: Path, ports: dict[str, int]) -> compose.Mapping:
    local, published, volumes = {}, {}, {}
    for name, service in document["services"].items():
        for port in container_ports(name, service):
            local[(name, port)] = ports[f"{name}:{port}"]
        for host_port, port in _published(service):
            published[host_port] = local[(name, port)]
        if "build" in service:
            for volume in service.get("volumes") or []:
                source, _, target = str(volume).partition(":")
                volumes[target.split(":")[0]] = run_dir / "volumes" / source
    image = compose.read_dockerfile()
    env_files = {
        path: run_dir / Path(path).name
        for service in document["services"].values()
        for path, _ in compose.env_files(service)
    }
    return compose.Mapping(
        ports=local,
        published=published,
        volumes=volumes,
        workdir=(image.workdir, ROOT),
        env_files=env_files,
        venv_bin=Path(sys.executable).parent,
        hostname=socket.gethostname(),
        home=run_dir / "home",
    )


def allocate_ports(document: dict, run_dir: Path) -> dict[str, int]:
    """One local port per container port, kept in DIR so a restarted stack has the same
    addresses (SITE_URL, and with it the log's key name, stays the same)."""
    saved = run_dir / "ports.json"
    ports = json.loads(saved.read_text()) if saved.exists() else {}
    for name, service in document["services"].items():
        for port in container_ports(name, service):
            ports.setdefault(f"{name}:{port}", free_port())
    saved.write_text(json.dumps(ports, indent=1))
    return ports


def write_secrets(run_dir: Path) -> Path:
    """The stand-in for the user's .env: fresh keys made once per stack directory."""
    path = run_dir / ".env"
    if not path.exists():
        log_key = subprocess.run(
            [sys.executable, "manage.py", "generate_log_key", "--name", "undersigned-stack"],
            cwd=ROOT,
            env={**os.environ, "DEBUG": "1", "DATABASE_URL": "sqlite:///:memory:"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        path.write_text(
            "# Made by `make stack` for this local stack only.\n"
            f"SECRET_KEY={secrets.token_urlsafe(48)}\n"
            f"EMAIL_HASH_KEY={secrets.token_urlsafe(48)}\n"
            f"LOG_SIGNING_KEY={log_key}\n"
        )
        path.chmod(0o600)
    return path


def build_plan(run_dir: Path) -> tuple[dict, dict[str, compose.Process], compose.Mapping]:
    run_dir.mkdir(parents=True, exist_ok=True)
    env_file = write_secrets(run_dir)
    # Compose interpolates from the shell's environment over the project's .env file.
    variables = {**compose.read_env_file(env_file), **os.environ}
    raw = compose.load(variables)
    ports = allocate_ports(raw, run_dir)
    mapping = mapping_for(raw, run_dir, ports)
    return raw, compose.plan(raw, compose.read_dockerfile(), mapping), mapping


def plan_as_json(processes: dict[str, compose.Process]) -> dict:
    return {
        name: {
            "kind": p.kind,
            "argv": p.argv,
            "env": p.env,
            "cwd": p.cwd,
            "healthcheck": p.healthcheck,
            "one_off": p.one_off,
        }
        for name, p in processes.items()
    }


# --- running --------------------------------------------------------------------------------


class Stack:
    def __init__(self, run_dir: Path):
        self.run_dir = run_dir.resolve()
        self.raw, self.processes, self.mapping = build_plan(self.run_dir)
        self.logs = self.run_dir / "logs"
        self.logs.mkdir(exist_ok=True)
        self.mapping.home.mkdir(exist_ok=True)
        for folder in self.mapping.volumes.values():  # Docker makes a named volume on first use
            folder.mkdir(parents=True, exist_ok=True)
        self.state_file = self.run_dir / "stack.json"
        self.pids: dict[str, int] = {}
        self.children: dict[int, subprocess.Popen] = {}  # started by this process: reaped here

    def port(self, service: str, container_port: int) -> int:
        return self.mapping.ports[(service, container_port)]

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.port('web', 8000)}"

    @property
    def mail_url(self) -> str:
        return f"http://127.0.0.1:{self.port('mailpit', 8025)}"

    def spawn(self, name: str, argv: list[str], env: dict, cwd: str | Path) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("a")
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.pids[name] = proc.pid
        self.children[proc.pid] = proc
        self.save()
        return proc

    def save(self) -> None:
        state = {"pids": self.pids, "web": self.web_url, "mail": self.mail_url}
        state["pg_data"] = str(self.pg_data) if self.pg_data else None
        self.state_file.write_text(json.dumps(state, indent=1))

    # stand-ins for the images -------------------------------------------------------------

    @property
    def pg_data(self) -> Path | None:
        for name, process in self.processes.items():
            if process.kind == "postgres":
                for volume in process.compose.get("volumes") or []:
                    source, _, target = str(volume).partition(":")
                    if target.startswith("/var/lib/postgresql/data"):
                        return self.run_dir / "volumes" / source
                return self.run_dir / "volumes" / f"{name}-data"
        return None

    def pg_ctl(self, *args: str) -> None:
        socket_dir = self.pg_data.parent / "pg-socket"
        port = next(p for (s, _), p in self.mapping.ports.items() if s == self.postgres_name)
        options = f"-p {port} -k {socket_dir} -c listen_addresses=127.0.0.1"
        subprocess.run(
            [*AS_POSTGRES, str(PG_BIN / "pg_ctl"), "-D", str(self.pg_data), "-l",
             str(self.logs / "postgres.log"), "-o", options, "-w", *args],
            check=True, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    @property
    def postgres_name(self) -> str:
        return next(n for n, p in self.processes.items() if p.kind == "postgres")

    def start_postgres(self, process: compose.Process) -> None:
        """As the postgres image's entrypoint does on an empty volume: a cluster whose superuser
        is POSTGRES_USER with POSTGRES_PASSWORD, password auth over TCP, and POSTGRES_DB."""
        if PG_BIN is None:
            raise SystemExit("PostgreSQL server binaries are missing (apt install postgresql-15)")
        data, env = self.pg_data, process.env
        user = env.get("POSTGRES_USER", "postgres")
        data.parent.mkdir(parents=True, exist_ok=True)
        for folder in (data.parent, self.logs):
            folder.chmod(0o777 if AS_POSTGRES else 0o755)
        (data.parent / "pg-socket").mkdir(exist_ok=True)
        (self.logs / "postgres.log").touch()
        if AS_POSTGRES:
            shutil.chown(data.parent / "pg-socket", "postgres")
            shutil.chown(self.logs / "postgres.log", "postgres")
        fresh = not (data / "PG_VERSION").exists()
        if fresh:
            data.mkdir(parents=True, exist_ok=True)
            if AS_POSTGRES:
                shutil.chown(data, "postgres")
            with tempfile.NamedTemporaryFile("w", dir=data.parent, delete=False) as pw:
                pw.write(env["POSTGRES_PASSWORD"])
            os.chmod(pw.name, 0o644)
            try:
                subprocess.run(
                    [*AS_POSTGRES, str(PG_BIN / "initdb"), "-D", str(data), "-U", user,
                     f"--pwfile={pw.name}", "--auth-local=trust", "--auth-host=scram-sha-256",
                     "-E", "UTF8", "--no-instructions"],
                    check=True, capture_output=True, text=True, timeout=120,
                )  # fmt: skip
            finally:
                os.unlink(pw.name)
        self.pg_ctl("start")
        if fresh and env.get("POSTGRES_DB", user) != "postgres":
            subprocess.run(
                [*AS_POSTGRES, str(PG_BIN / "createdb"), "-h", str(data.parent / "pg-socket"),
                 "-p", str(self.port(self.postgres_name, 5432)), "-U", user,
                 env.get("POSTGRES_DB", user)],
                check=True, capture_output=True, text=True, timeout=60,
            )  # fmt: skip

    def start_redis(self, name: str, process: compose.Process) -> None:
        folder = self.run_dir / "volumes" / f"{name}-data"  # the image's /data
        folder.mkdir(parents=True, exist_ok=True)
        argv = [*process.argv, "--port", str(self.port(name, 6379)), "--bind", "127.0.0.1"]
        self.spawn(name, [*argv, "--dir", str(folder)], {"PATH": os.environ["PATH"]}, folder)

    def start_mailpit(self, name: str) -> None:
        argv = [sys.executable, "-m", "deploy.mailsink"]
        argv += [str(self.port(name, 1025)), str(self.port(name, 8025))]
        self.spawn(name, argv, {**os.environ, "PYTHONPATH": str(ROOT)}, ROOT)

    def standin_healthcheck(self, name: str) -> list[str] | None:
        """Compose's health check of an image, pointed at the local stand-in."""
        process = self.processes[name]
        check = process.healthcheck
        ports = {"postgres": 5432, "redis": 6379}
        host = {"postgres": ["-h", "127.0.0.1"], "redis": []}
        extra = None
        if process.kind in ports:
            extra = [*host[process.kind], "-p", str(self.port(name, ports[process.kind]))]
        if process.kind == "app" or not check:
            return check
        if extra is None:
            return None
        if check[:2] == ["sh", "-c"]:
            return ["sh", "-c", f"{check[2]} {' '.join(extra)}"]
        return [*check, *extra]

    def healthy(self, name: str) -> bool:
        process = self.processes[name]
        if process.kind == "mailpit":
            return _answers(self.mail_url + "/api/v1/messages")
        check = self.standin_healthcheck(name)
        if check is None:
            return True
        env = process.env if process.kind == "app" else {"PATH": os.environ["PATH"]}
        result = subprocess.run(check, env=env, cwd=ROOT, capture_output=True, timeout=60)
        return result.returncode == 0

    def wait_healthy(self, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.healthy(name):
                return
            time.sleep(0.3)
        raise SystemExit(f"{name} is not healthy after {timeout:.0f}s: see {self.logs}/{name}.log")

    # the whole stack -----------------------------------------------------------------------

    def build(self) -> None:
        """The image build's step that needs the code: collectstatic (the Dockerfile's RUN).
        Skipped, as Docker's layer cache would, when no static file changed since the last."""
        app = next(p for p in self.processes.values() if p.kind == "app")
        static_root = Path(app.env.get("STATIC_ROOT") or self.run_dir / "static")
        stamp = static_root / ".stack-build"
        sources = sorted(
            f"{path.relative_to(ROOT)}:{path.stat().st_size}:{path.stat().st_mtime_ns}"
            for folder in [ROOT / "static", *ROOT.glob("*/static")]
            for path in folder.rglob("*")
            if path.is_file()
        )
        fingerprint = hashlib.sha256("\n".join(sources).encode()).hexdigest()
        if stamp.exists() and stamp.read_text() == fingerprint:
            return
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=app.env,
            check=True,
            timeout=300,
        )
        stamp.write_text(fingerprint)

    def up(self) -> None:
        """Start in dependency order, waiting where compose waits: for a dependency to be
        healthy (service_healthy) or to have finished (service_completed_successfully). Then
        every long-running service must pass its own health check."""
        self.build()
        healthy: set[str] = set()
        for name in compose.start_order(self.processes):
            process = self.processes[name]
            for dependency, condition in _conditions(process.compose).items():
                if condition == "service_healthy" and dependency not in healthy:
                    self.wait_healthy(dependency)
                    healthy.add(dependency)
            print(f"starting {name}", flush=True)
            if process.kind == "postgres":
                self.start_postgres(process)
            elif process.kind == "redis":
                self.start_redis(name, process)
            elif process.kind == "mailpit":
                self.start_mailpit(name)
            elif process.one_off:
                proc = self.spawn(name, process.argv, process.env, process.cwd)
                if proc.wait(timeout=600) != 0:
                    raise SystemExit(f"{name} failed: see {self.logs}/{name}.log")
            else:
                self.spawn(name, process.argv, process.env, process.cwd)
        for name, process in self.processes.items():
            if not process.one_off and name not in healthy:
                self.wait_healthy(name)
        print(f"stack up: {self.web_url} (mail at {self.mail_url}), logs in {self.logs}")

    def down(self) -> None:
        state = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}
        pids = state.get("pids", {})
        for pid in reversed(list(pids.values())):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
        for pid in pids.values():
            if pid in self.children:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.children[pid].wait(20)
            _wait_gone(pid, 20)
        if self.pg_data and (self.pg_data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self.pg_ctl("-m", "fast", "stop")
        self.state_file.unlink(missing_ok=True)


def _conditions(service: dict) -> dict[str, str]:
    depends = service.get("depends_on") or {}
    if isinstance(depends, list):
        return dict.fromkeys(depends, "service_started")
    return {
        name: (spec or {}).get("condition", "service_started") for name, spec in depends.items()
    }


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - a local address
            return True
    except OSError:
        return False


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("action", choices=["up", "down", "plan"])
    parser.add_argument("--dir", default=str(ROOT / "var" / "stack"))
    parser.add_argument("--detach", action="store_true")
    options = parser.parse_args()
    stack = Stack(Path(options.dir))
    if options.action == "plan":
        print(json.dumps(plan_as_json(stack.processes), indent=1))
    elif options.action == "down":
        stack.down()
    else:
        try:
            stack.up()
        except BaseException:
            stack.down()
            raise
        if not options.detach:
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()
            stack.down()


if __name__ == "__main__":
    main()
