from django.apps import AppConfig

from portal.core.sections import Section


class PipelinesConfig(AppConfig):
    name = "portal.pipelines"
    label = "pipelines"
    verbose_name = "Chime SDK media capture pipelines"
    sections = (
        Section(
            label="Pipelines",
            url_name="pipelines",
            position=40,
            title="Capture pipelines",
            summary="Chime SDK media capture pipelines recording meetings into S3.",
            coming=(
                "Start a recording of a meeting into a bucket",
                "Follow Initializing → InProgress → Stopping → Stopped",
                "List the artifacts a pipeline wrote",
            ),
        ),
    )
