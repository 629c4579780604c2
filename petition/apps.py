from django.apps import AppConfig

# Importing the module registers the deployment checks (it needs no model, so it may load with
# the app's config, before the registry is ready).
from . import checks  # noqa: F401


class PetitionConfig(AppConfig):
    name = "petition"
