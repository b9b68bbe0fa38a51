from django.apps import AppConfig

from portal.core.sections import Section


class StagesConfig(AppConfig):
    name = "portal.stages"
    label = "stages"
    verbose_name = "IVS Real-Time stages"
    sections = (
        Section(
            label="Stages",
            url_name="stages",
            position=20,
            summary="Amazon IVS Real-Time stages: tokens, live sessions, participants, and disconnecting them.",
            figures="portal.stages.selectors.stages_figures",
        ),
    )
