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
            summary="Recordings of meetings into S3: follow each to its end, browse and play what it wrote.",
            figures="portal.pipelines.overview.pipelines_figures",
        ),
    )
