"""`make stack` runs what docker-compose.yml says, and nothing else: each service's command and
environment, read here straight from the compose file and the Dockerfile, must equal what the
stack's plan runs once the documented mapping (hosts, ports, volumes, env_file) is applied."""

import copy
import json
import os
import re
import shlex
from pathlib import Path

import pytest
import yaml

from deploy import compose, stack

ROOT = Path(__file__).resolve().parent.parent.parent
RUNTIME = {"PATH", "HOME", "HOSTNAME"}  # set by Docker in every container, and by the stack


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("stack")
    raw, processes, mapping = stack.build_plan(run_dir)
    return run_dir, processes, mapping


def dockerfile() -> tuple[dict, list[str]]:
    env, cmd = {}, []
    for line in re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text()).splitlines():
        if line.startswith("ENV "):
            env.update(w.split("=", 1) for w in shlex.split(line[4:]))
        if line.startswith("CMD "):
            cmd = json.loads(line[4:])
    return env, cmd


def substitutions(service: str, mapping: compose.Mapping) -> list[tuple[str, str]]:
    """The mapping, written out as plain text replacements."""
    pairs = []
    for (host, port), local in mapping.ports.items():
        pairs.append((f"{host}:{port}", f"127.0.0.1:{local}"))
        if host == service:
            for own in ("0.0.0.0", "127.0.0.1", "localhost"):
                pairs.append((f"{own}:{port}", f"127.0.0.1:{local}"))
    for published, local in mapping.published.items():
        pairs.append((f"localhost:{published}", f"127.0.0.1:{local}"))
    for mount, folder in mapping.volumes.items():
        pairs.append((mount, str(folder)))
    pairs.append((mapping.workdir[0], str(mapping.workdir[1])))
    return pairs


def mapped(text: str, pairs: list[tuple[str, str]]) -> str:
    for before, after in pairs:
        # An address after anything but a name character; a path only where it starts.
        edge = r"(?<![\w/])" if before.startswith("/") else r"(?<![\w.-])"
        text = re.sub(rf"{edge}{re.escape(before)}(?![\w])", after, text)
    return text


def differences(run_dir: Path, processes: dict, mapping: compose.Mapping) -> list[str]:
    env_file = compose.read_env_file(run_dir / ".env")
    variables = {**env_file, **os.environ}
    text = (ROOT / "docker-compose.yml").read_text()
    raw = yaml.safe_load(text)
    image_env, image_cmd = dockerfile()
    found = []
    for name, service in raw["services"].items():
        if "build" not in service:
            continue
        pairs = substitutions(name, mapping)
        process = processes.get(name)
        if process is None:
            found.append(f"{name}: in compose, not in the stack")
            continue
        command = service.get("command", image_cmd)
        command = shlex.split(command) if isinstance(command, str) else command
        expected_argv = [mapped(compose.interpolate(a, variables), pairs) for a in command]
        if process.argv != expected_argv:
            found.append(f"{name}: runs {process.argv}, compose says {expected_argv}")
        expected_env = dict(image_env)
        for path, _ in compose.env_files(service):
            expected_env.update(compose.read_env_file(run_dir / Path(path).name))
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        expected_env.update({k: str(v) for k, v in environment.items()})
        expected_env = {
            k: mapped(compose.interpolate(v, variables), pairs) for k, v in expected_env.items()
        }
        actual = {k: v for k, v in process.env.items() if k not in RUNTIME}
        for key in sorted(set(actual) | set(expected_env)):
            if actual.get(key) != expected_env.get(key):
                found.append(
                    f"{name}: {key}={actual.get(key)!r}, compose: {expected_env.get(key)!r}"
                )
    for name in processes:
        if name not in raw["services"]:
            found.append(f"{name}: run by the stack, not in compose")
    return found


def test_the_stack_runs_each_service_as_compose_says(planned):
    assert differences(*planned) == []


def test_every_compose_service_is_started(planned):
    _, processes, _ = planned
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert set(processes) == set(raw["services"])
    assert compose.start_order(processes).index("migrate") < compose.start_order(processes).index(
        "web"
    )


def test_a_changed_command_is_caught(planned):
    run_dir, processes, mapping = planned
    changed = copy.deepcopy(processes)
    changed["worker"].argv = [*changed["worker"].argv, "--concurrency=8"]
    assert any("worker: runs" in d for d in differences(run_dir, changed, mapping))


def test_an_added_or_dropped_variable_is_caught(planned):
    run_dir, processes, mapping = planned
    changed = copy.deepcopy(processes)
    changed["web"].env["CELERY_TASK_ALWAYS_EAGER"] = "1"
    del changed["beat"].env["REDIS_URL"]
    found = differences(run_dir, changed, mapping)
    assert any(d.startswith("web: CELERY_TASK_ALWAYS_EAGER") for d in found), found
    assert any(d.startswith("beat: REDIS_URL") for d in found), found


def test_the_mapping_moves_only_compose_addresses_and_paths(planned):
    _, processes, mapping = planned
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert {host for host, _ in mapping.ports} <= set(raw["services"])
    web = processes["web"]
    assert web.env["DATABASE_URL"].startswith("postgres://undersigned:undersigned@127.0.0.1:")
    assert web.env["REDIS_URL"] == f"redis://127.0.0.1:{mapping.ports[('redis', 6379)]}/0"
    assert web.env["EMAIL_URL"] == f"smtp://127.0.0.1:{mapping.ports[('mailpit', 1025)]}"
    assert f"127.0.0.1:{mapping.ports[('web', 8000)]}" in web.argv
    assert "0.0.0.0:8000" not in " ".join(web.argv)
    for process in processes.values():
        for value in [*process.argv, *process.env.values()]:
            assert "@postgres:" not in value and "//redis:" not in value, value


def test_the_makefile_starts_the_stack_through_the_plan_only():
    makefile = (ROOT / "Makefile").read_text()
    stack_rule = re.search(r"^stack:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "-m deploy.stack up" in stack_rule
    assert not re.search(r"\b[A-Z_]+=", stack_rule), "no environment added beside compose's"


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("${A:-x}", {}, "x"),
        ("${A:-x}", {"A": ""}, "x"),
        ("${A-x}", {"A": ""}, ""),
        ("${A:-x}", {"A": "y"}, "y"),
        ("$${A}", {"A": "y"}, "${A}"),
        ("celery@$$HOSTNAME", {}, "celery@$HOSTNAME"),
        ("${A:+on}", {"A": "1"}, "on"),
        ("$A/b", {"A": "y"}, "y/b"),
    ],
)
def test_interpolation_follows_compose(text, variables, expected):
    assert compose.interpolate(text, variables) == expected


def test_a_required_variable_left_unset_is_an_error():
    with pytest.raises(compose.ComposeError, match="SECRET_KEY"):
        compose.interpolate("${SECRET_KEY:?set it in .env}", {})


def test_merge_keys_env_files_and_precedence(tmp_path):
    (tmp_path / "docker-compose.yml").write_text(
        "x-app: &app\n"
        "  build: .\n"
        "  env_file: .env\n"
        "  environment: {FROM_COMPOSE: '${WHO:-nobody}', BOTH: compose}\n"
        "services:\n"
        "  web:\n"
        "    <<: *app\n"
        "    ports: ['8000:8000']\n"
    )
    (tmp_path / ".env").write_text("# secrets\nSECRET_KEY='s3cret'\nBOTH=file\n")
    raw = compose.load({"WHO": "me"}, tmp_path / "docker-compose.yml")
    assert "x-app" not in raw
    mapping = compose.Mapping(
        ports={("web", 8000): 1234},
        published={8000: 1234},
        volumes={},
        workdir=("/app", tmp_path),
        env_files={".env": tmp_path / ".env"},
        venv_bin=tmp_path,
        hostname="h",
        home=tmp_path,
    )
    image = compose.Image(env={"BOTH": "image", "PYTHONUNBUFFERED": "1"}, workdir="/app", cmd=[])
    env = compose.plan(raw, image, mapping)["web"].env
    assert env["SECRET_KEY"] == "s3cret"
    assert env["FROM_COMPOSE"] == "me"
    assert env["BOTH"] == "compose", "environment wins over env_file, env_file over the image"
    assert env["PYTHONUNBUFFERED"] == "1"
