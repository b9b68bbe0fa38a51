from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules

from portal.core.sections import Section


class CoreConfig(AppConfig):
    name = "portal.core"
    label = "core"
    verbose_name = "Portal core"
    sections = (
        Section(label="Operations", url_name="operations", position=90),
        Section(label="Audit", url_name="audit", position=95),
    )

    def ready(self) -> None:
        from portal import celery_app
        from portal.core.refresh import refreshers_schedule

        autodiscover_modules("operations")  # each app's operation kinds register themselves
        autodiscover_modules("refresh")  # each app's refresher registers itself
        celery_app.conf.beat_schedule = {**celery_app.conf.beat_schedule, **refreshers_schedule()}
