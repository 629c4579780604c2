"""No dead code: vulture finds the functions, classes, methods and names nothing uses.

Django reaches much of a project by name, where vulture sees no use. What it reaches is told to
vulture three ways:

- tests/vulture_whitelist.py: the names the frameworks look up themselves (Meta and admin
  options, hooks, management commands' `handle`...);
- decorators that register with a framework, and name patterns (`clean_<field>`, the settings
  libraries read under their own prefix), below;
- the names the project chooses and the framework finds by string, collected here: the last
  part of every dotted path written in the code (settings, the URLconf, Celery's schedule),
  Django's own settings, every field of the project's models and forms and every member of
  their choices, the AppConfig Django found for each app, and every attribute a template reads.

The tests are not scanned: code only a test uses counts as dead, and is reported.
"""

import ast
import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

from django import forms
from django.apps import apps
from django.conf import global_settings, settings
from django.db import models

ROOT = Path(settings.BASE_DIR)
PACKAGES = ["petition", "accounts", "lib", "config"]
WHITELIST = ROOT / "tests" / "vulture_whitelist.py"

IGNORE_DECORATORS = [
    "@admin.register",  # registers a ModelAdmin with the admin site
    "@admin.action",  # the admin lists it among a ModelAdmin's actions
    "@admin.display",  # the admin calls it by the name list_display gives
    "@checks.register",  # a system check, run by `manage.py check` and at start-up
    "@register.*",  # a template tag or filter, used by name in templates
    "@*.connect",  # a signal receiver (Celery's and Django's signals)
]
IGNORE_NAMES = [
    "clean_*",  # a form's per-field validation, called by name for each field
    "ACCOUNT_*",  # settings django-allauth reads
    "CELERY_*",  # settings Celery reads (config_from_object with namespace "CELERY")
    "WHITENOISE_*",  # settings WhiteNoise reads
]

DOTTED_PATH = re.compile(rf"^(?:{'|'.join(PACKAGES)})(?:\.[A-Za-z_]\w*)+$")
TEMPLATE_TAG = re.compile(r"{{.*?}}|{%.*?%}", re.DOTALL)
QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")  # a template name, a URL name: not attributes
ATTRIBUTE = re.compile(r"\.([A-Za-z_]\w*)")


def project_modules() -> list[Path]:
    return [
        path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def dotted_path_names() -> set[str]:
    """The last part of every dotted path into the project written in its code: what Django,
    Celery and gunicorn import from a string."""
    names = set()
    for path in project_modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            value = node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, str) and DOTTED_PATH.match(value):
                names.add(value.rsplit(".", 1)[1])
    return names


def queued_task_names() -> set[str]:
    """The tasks queued by name, `jobs.enqueue("make_checkpoint", ...)`: the service layer never
    imports the task module, so Celery finds the function from that string."""
    names = set()
    for path in project_modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            called = node.func.attr if isinstance(node.func, ast.Attribute) else None
            called = called or (node.func.id if isinstance(node.func, ast.Name) else None)
            first = node.args[0]
            if called == "enqueue" and isinstance(first, ast.Constant):
                names.add(str(first.value))
    return names


def template_names() -> set[str]:
    """Every attribute a template reads (`{{ letter.body_html }}`, `{% if text.is_original %}`)."""
    names = set()
    for folder in [ROOT / "templates", *ROOT.glob("*/templates")]:
        for path in folder.rglob("*"):
            if path.suffix in (".html", ".txt"):
                for tag in TEMPLATE_TAG.findall(path.read_text()):
                    names.update(ATTRIBUTE.findall(QUOTED.sub("", tag)))
    return names


def import_project() -> None:
    """Every module of the project, so the registry and the form classes below are complete."""
    for package in PACKAGES:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            if ".migrations" not in info.name:
                importlib.import_module(info.name)


def subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *subclasses(sub)}
    return {sub for sub in found if sub.__module__.split(".")[0] in PACKAGES}


def registry_names() -> set[str]:
    """Django's settings; the fields of the project's models and forms, the members of its
    choices, and its AppConfigs: Django reads them by name (querysets, forms' cleaned_data, the
    admin's options, templates; an app's AppConfig is the one its apps.py defines)."""
    import_project()
    names = {name for name in dir(global_settings) if name.isupper()}
    for config in apps.get_app_configs():
        if config.name in PACKAGES:
            names.add(type(config).__name__)
            for model in config.get_models():
                names.update(field.name for field in model._meta.get_fields())
    for form in subclasses(forms.BaseForm):
        names.update(form.base_fields)
    for choices in subclasses(models.Choices):
        names.update(choices.names)
    return names


def test_no_dead_code(tmp_path):
    found = dotted_path_names() | queued_task_names() | template_names() | registry_names()
    collected = tmp_path / "collected_whitelist.py"
    collected.write_text(
        "_ = None\n" + "".join(f"_.{name}\n" for name in sorted(found) if name.isidentifier())
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vulture",
            *PACKAGES,
            str(WHITELIST),
            str(collected),
            "--min-confidence",
            "60",
            "--exclude",
            "*/migrations/*",
            "--ignore-decorators",
            ",".join(IGNORE_DECORATORS),
            "--ignore-names",
            ",".join(IGNORE_NAMES),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, "Dead code (delete it, or whitelist a framework's name):\n" + (
        result.stdout + result.stderr
    )
