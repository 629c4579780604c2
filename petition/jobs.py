"""Queue a task of petition/tasks.py by its name.

The tasks call the service layer (services, emails, the public log, deliveries, the outbox), so
that layer never imports petition.tasks: it asks Celery for the task by its registered name,
petition.tasks.NAME, the name Celery beat and the queued messages use too.
"""

from celery import current_app

TASK_MODULE = "petition.tasks"


def enqueue(name: str, *args, countdown: float | None = None) -> None:
    """Queue petition.tasks.`name` with `args`, `countdown` seconds from now, without the
    client's retry loop: a caller never waits on a broker that is down (what such a message
    was for is picked up by a periodic job). Runs it at once where tasks run inline."""
    app = current_app
    task = f"{TASK_MODULE}.{name}"
    if task not in app.tasks:
        # Nothing in this process imported the task module yet: load it as the worker does.
        # Without the task registered, a signature is sent to the broker even where tasks run
        # inline (no broker: `make run`, the unit tests), and nobody runs it.
        app.autodiscover_tasks(force=True)
    app.signature(task, args=args).apply_async(countdown=countdown, retry=False)


def run_inline() -> bool:
    """Do tasks run in the process that queues them (no broker: `make run`, the unit tests)?"""
    return bool(current_app.conf.task_always_eager)
