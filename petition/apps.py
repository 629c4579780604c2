from django.apps import AppConfig


class PetitionConfig(AppConfig):
    name = "petition"

    def ready(self):
        from . import checks  # noqa: F401 - registers the deployment checks
