from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "portal.core"
    label = "core"
    verbose_name = "Portal core"

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        from portal.core import connection  # noqa: F401  (registers its operation kind)

        autodiscover_modules("refresh")  # each feature's refresher registers itself
        from portal import celery_app
        from portal.core.refresh import refreshers_schedule

        celery_app.conf.beat_schedule = {**celery_app.conf.beat_schedule, **refreshers_schedule()}
