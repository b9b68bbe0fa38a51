from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules

from portal.core.permissions import REVOKE_PARTICIPANTS
from portal.core.sections import Section


class CoreConfig(AppConfig):
    name = "portal.core"
    label = "core"
    verbose_name = "Portal core"
    sections = (
        Section(
            label="People",
            url_name="people",
            position=80,
            title="Find a person",
            summary="Type a user id: wherever it is connected or holds a token issued here; end them all at once.",
            permission=REVOKE_PARTICIPANTS,
        ),
        Section(
            label="Operations", url_name="operations", position=90, figures="portal.core.overview.operations_figures"
        ),
        Section(label="Drift", url_name="drift", position=92, figures="portal.core.overview.drift_figures"),
        Section(label="Audit", url_name="audit", position=95),
    )
    audit_kinds = {
        "drift.adopt": "Adopt AWS's value",
        "drift.keep": "Keep in the portal",
        "drift.reapply": "Re-apply the portal's value",
        "drift.mark_gone": "Mark gone",
        "protection.kept": "Kept: protected in AWS",
    }

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.core.signals import got_request_exception

        from portal.core.middleware import database_failure_noted, session_renewed_at_login

        user_logged_in.connect(session_renewed_at_login, dispatch_uid="session_renewed_at_login")
        got_request_exception.connect(database_failure_noted, dispatch_uid="database_failure_noted")
        from portal import celery_app
        from portal.core.refresh import refreshers_schedule

        autodiscover_modules("operations")  # each app's operation kinds register themselves
        autodiscover_modules("refresh")  # each app's refresher registers itself
        autodiscover_modules("identities")  # each app's identity source registers itself
        autodiscover_modules("drift")  # each app's drift kinds register themselves
        autodiscover_modules("slots")  # each app's panels on other apps' pages register themselves
        autodiscover_modules("events")  # each app's handlers of queue events register themselves
        autodiscover_modules("annotations")  # each app's columns on other apps' lists register themselves
        celery_app.conf.beat_schedule = {**celery_app.conf.beat_schedule, **refreshers_schedule()}
