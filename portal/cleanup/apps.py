from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules

from portal.core.sections import Section


class CleanupConfig(AppConfig):
    name = "portal.cleanup"
    label = "cleanup"
    verbose_name = "Scheduled cleanup"
    sections = (
        Section(
            label="Cleanup",
            url_name="cleanup",
            position=70,
            summary="Policies that delete, end or revoke what is old or idle, on a schedule: preview, run, reports.",
            figures="portal.cleanup.selectors.cleanup_figures",
        ),
    )
    audit_kinds = {
        "cleanup.policy_create": "Create cleanup policy",
        "cleanup.policy_change": "Change cleanup policy",
    }

    def ready(self) -> None:
        autodiscover_modules("cleanup")  # each app's cleanup kinds register themselves
