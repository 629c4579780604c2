"""docker-compose.yml and the Dockerfile, read as Docker Compose reads them, turned into a plan of
local processes: what `make stack` runs. The plan is derived, never written twice, so compose and
the stack cannot drift; tests/deploy/test_stack_plan.py checks that the only differences are the
mapping below.

The mapping (a container world onto one machine):
- a compose service's host name and container port (postgres:5432, redis:6379, mailpit:1025) and
  a published port (localhost:8000) become 127.0.0.1 and a port of the stack's own;
- a bind to 0.0.0.0:PORT inside a container becomes 127.0.0.1 and that port's local number;
- a named volume's mount point (/app/var) becomes a folder under the stack's run directory, and
  the image's WORKDIR (/app) the repository itself;
- an env_file (.env) becomes the run directory's own file of fresh secrets, so a user's real .env
  never reaches a local test stack;
- the image's environment (Dockerfile ENV) is kept; PATH puts the project's virtualenv first, as
  the image's python has the packages; HOME (a folder of the stack's) and HOSTNAME are set as
  Docker sets them.
Images without a build (postgres, redis, mailpit) are provided by local programs: see
deploy/stack.py.
"""

import json
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

# Compose's interpolation: $$ is a dollar; ${VAR}, ${VAR:-default}, ${VAR-default},
# ${VAR:?message}, ${VAR?message}, ${VAR:+alternative}, ${VAR+alternative}; $VAR.
INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


class ComposeError(ValueError):
    pass


def interpolate(text: str, variables: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        op, arg = match["op"], match["arg"] or ""
        value = variables.get(name)
        unset_or_empty = value is None or (op or "").startswith(":") and value == ""
        if op in {":-", "-"}:
            return arg if unset_or_empty else value
        if op in {":?", "?"}:
            if unset_or_empty:
                raise ComposeError(f"{name}: {arg or 'required'}")
            return value
        if op in {":+", "+"}:
            return "" if unset_or_empty else arg
        return value or ""

    return INTERPOLATION.sub(replace, text)


def _interpolate_tree(node, variables: dict[str, str]):
    if isinstance(node, str):
        return interpolate(node, variables)
    if isinstance(node, list):
        return [_interpolate_tree(item, variables) for item in node]
    if isinstance(node, dict):
        return {key: _interpolate_tree(value, variables) for key, value in node.items()}
    return node


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines, # comments, optional quotes, as compose reads an env_file."""
    values = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ")
        key, sep, value = line.partition("=")
        if not sep:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def load(variables: dict[str, str], path: Path = COMPOSE_FILE) -> dict:
    """The compose file with anchors and merge keys resolved (YAML does that) and every value
    interpolated from `variables`. Top-level x- extensions are dropped, as compose does."""
    document = yaml.safe_load(path.read_text())
    document = {k: v for k, v in document.items() if not k.startswith("x-")}
    return _interpolate_tree(document, variables)


def _as_mapping(environment) -> dict[str, str]:
    if environment is None:
        return {}
    if isinstance(environment, list):
        pairs = (item.partition("=") for item in environment)
        return {k: v for k, _, v in pairs}
    return {k: "" if v is None else str(v) for k, v in environment.items()}


def env_files(service: dict) -> list[tuple[str, bool]]:
    """(path, required) for each env_file entry, in order."""
    entries = service.get("env_file") or []
    if isinstance(entries, str):
        entries = [entries]
    found = []
    for entry in entries:
        if isinstance(entry, str):
            found.append((entry, True))
        else:
            found.append((entry["path"], entry.get("required", True)))
    return found


@dataclass
class Image:
    """What the Dockerfile gives every container built from it."""

    env: dict[str, str]
    workdir: str
    cmd: list[str]


def read_dockerfile(path: Path = DOCKERFILE) -> Image:
    env, workdir, cmd = {}, "/", []
    text = re.sub(r"\\\n", " ", path.read_text())
    for line in text.splitlines():
        instruction, _, args = line.strip().partition(" ")
        instruction = instruction.upper()
        if instruction == "ENV":
            for word in shlex.split(args):
                key, _, value = word.partition("=")
                env[key] = value
        elif instruction == "WORKDIR":
            workdir = args.strip()
        elif instruction == "CMD":
            cmd = json.loads(args) if args.strip().startswith("[") else ["sh", "-c", args]
    return Image(env=env, workdir=workdir, cmd=cmd)


@dataclass
class Process:
    """One service as a local process: its argv, environment and working directory."""

    name: str
    kind: str  # "app" (built from the Dockerfile), or the image it stands in for
    argv: list[str]
    env: dict[str, str]
    cwd: str
    healthcheck: list[str] | None = None
    one_off: bool = False
    depends_on: list[str] = field(default_factory=list)
    compose: dict = field(default_factory=dict)


@dataclass
class Mapping:
    """Where each container address and path lands on this machine."""

    ports: dict[tuple[str, int], int]  # (compose host, container port) -> local port
    published: dict[int, int]  # published host port -> local port
    volumes: dict[str, Path]  # mount point in the container -> local folder
    workdir: tuple[str, Path]  # (image WORKDIR, local folder)
    env_files: dict[str, Path]  # env_file path as written -> the stack's own file
    venv_bin: Path
    hostname: str
    home: Path  # the image user's home directory

    def value(self, text: str) -> str:
        """Host:port pairs and container paths in one value (a URL, a host list, a path)."""

        def address(match: re.Match) -> str:
            host, port = match["host"], int(match["port"])
            if (host, port) in self.ports:
                return f"127.0.0.1:{self.ports[(host, port)]}"
            if host in {"localhost", "127.0.0.1"} and port in self.published:
                return f"127.0.0.1:{self.published[port]}"
            return match.group(0)

        text = re.sub(r"(?P<host>[A-Za-z0-9_.-]+):(?P<port>\d+)\b", address, text)
        return self.path(text)

    def path(self, text: str) -> str:
        for mount, local in sorted(self.volumes.items(), key=lambda item: -len(item[0])):
            text = re.sub(rf"(?<![\w/]){re.escape(mount)}(?=/|\b|$)", str(local), text)
        image_dir, local_dir = self.workdir
        if image_dir != "/":
            text = re.sub(rf"(?<![\w/]){re.escape(image_dir)}(?=/|$)", str(local_dir), text)
        return text

    def own(self, text: str, service: str) -> str:
        """A container's own address in its command or health check (0.0.0.0:8000 to bind,
        127.0.0.1:8000 to probe itself): that service's port, locally."""

        def local(match: re.Match) -> str:
            mapped = self.ports.get((service, int(match["port"])))
            return f"127.0.0.1:{mapped}" if mapped else match.group(0)

        return re.sub(r"\b(?:0\.0\.0\.0|127\.0\.0\.1|localhost):(?P<port>\d+)\b", local, text)


def _depends(service: dict) -> list[str]:
    depends = service.get("depends_on") or []
    return list(depends) if isinstance(depends, list | dict) else []


def _command(service: dict, image: Image) -> list[str]:
    command = service.get("command")
    if command is None:
        return list(image.cmd)
    return shlex.split(command) if isinstance(command, str) else list(command)


def _healthcheck(service: dict) -> list[str] | None:
    test = (service.get("healthcheck") or {}).get("test")
    if not test or test[0] == "NONE":
        return None
    if isinstance(test, str):
        return ["sh", "-c", test]
    return ["sh", "-c", test[1]] if test[0] == "CMD-SHELL" else list(test[1:])


def app_environment(service: dict, image: Image, mapping: Mapping) -> dict[str, str]:
    """The container's environment, in compose's precedence (image ENV, then env_file, then
    environment), mapped onto this machine."""
    env = dict(image.env)
    for path, required in env_files(service):
        local = mapping.env_files.get(path)
        if local is None:
            raise ComposeError(f"env_file {path!r} has no local stand-in in the mapping")
        if local.exists():
            env.update(read_env_file(local))
        elif required:
            raise ComposeError(f"env_file {local} is missing")
    env.update(_as_mapping(service.get("environment")))
    env = {key: mapping.value(value) for key, value in env.items()}
    env["PATH"] = f"{mapping.venv_bin}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"
    env["HOME"] = str(mapping.home)
    env["HOSTNAME"] = mapping.hostname
    return env


def plan(document: dict, image: Image, mapping: Mapping) -> dict[str, Process]:
    processes = {}
    for name, service in document["services"].items():
        if "build" in service:
            argv = [mapping.own(mapping.path(arg), name) for arg in _command(service, image)]
            check = _healthcheck(service)
            processes[name] = Process(
                name=name,
                kind="app",
                argv=argv,
                env=app_environment(service, image, mapping),
                cwd=str(mapping.workdir[1]),
                healthcheck=[mapping.value(mapping.own(arg, name)) for arg in check]
                if check
                else None,
                one_off=service.get("restart") == "no",
                depends_on=_depends(service),
                compose=service,
            )
        else:
            image_name = service["image"].split("/")[-1].split(":")[0]
            processes[name] = Process(
                name=name,
                kind=image_name,
                argv=_command(service, Image(env={}, workdir="/", cmd=[])),
                env=_as_mapping(service.get("environment")),
                cwd="/",
                healthcheck=_healthcheck(service),
                depends_on=_depends(service),
                compose=service,
            )
    return processes


def start_order(processes: dict[str, Process]) -> list[str]:
    """Services after those they depend on, in the file's order otherwise."""
    done: list[str] = []

    def visit(name: str, seen: tuple[str, ...]) -> None:
        if name in done:
            return
        if name in seen:
            raise ComposeError(f"depends_on cycle through {name}")
        for dependency in processes[name].depends_on:
            visit(dependency, (*seen, name))
        done.append(name)

    for name in processes:
        visit(name, ())
    return done
