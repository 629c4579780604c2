import os

from celery import Celery, signals
from django import db
from django.conf import settings
from django.utils.log import configure_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("undersigned")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def use_django_logging(**kwargs):
    """Worker and beat log through Django's LOGGING, as web processes and management commands
    do, so the redaction filter on its handlers masks addresses there too. A receiver on this
    signal is what stops Celery configuring logging itself: without one, it replaces the root
    logger's handlers with its own, which carry no filter."""
    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)


@signals.task_prerun.connect
@signals.task_postrun.connect
def close_old_connections(sender=None, **kwargs):
    """With CELERY_DB_REUSE_MAX a worker keeps its connection across tasks; drop it, as Django
    does between requests, when it has errors (PostgreSQL restarted) or outlived CONN_MAX_AGE.
    Never for a task run inline: that would close the caller's connection mid-transaction."""
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    db.close_old_connections()
