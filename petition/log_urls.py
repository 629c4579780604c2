"""The public log's read endpoints (petition/views/log.py), included under api/ by
config/urls.py."""

from django.urls import path

from .views import log

urlpatterns = [
    path("log/key", log.key, name="log_key"),
    path("letters/<slug:slug>/log/checkpoint", log.checkpoint, name="log_checkpoint"),
    path("letters/<slug:slug>/log/entries", log.entries, name="log_entries"),
    path("letters/<slug:slug>/log/inclusion", log.inclusion, name="log_inclusion"),
    path("letters/<slug:slug>/log/consistency", log.consistency, name="log_consistency"),
]
