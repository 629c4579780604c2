from django.urls import path

from . import log_views

urlpatterns = [
    path("log/key", log_views.key, name="log_key"),
    path("letters/<slug:slug>/log/checkpoint", log_views.checkpoint, name="log_checkpoint"),
    path("letters/<slug:slug>/log/entries", log_views.entries, name="log_entries"),
    path("letters/<slug:slug>/log/inclusion", log_views.inclusion, name="log_inclusion"),
    path("letters/<slug:slug>/log/consistency", log_views.consistency, name="log_consistency"),
]
