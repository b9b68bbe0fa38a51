from django.apps import AppConfig


class StagesConfig(AppConfig):
    name = "portal.stages"
    label = "stages"
    verbose_name = "IVS Real-Time stages"

    def ready(self) -> None:
        from portal.stages import operations  # noqa: F401  (registers the stage operation kinds)
