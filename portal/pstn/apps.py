from django.apps import AppConfig

from portal.core.sections import Section


class PstnConfig(AppConfig):
    name = "portal.pstn"
    label = "pstn"
    verbose_name = "PSTN calls"
    sections = (
        Section(
            label="Calls",
            url_name="pstn_calls",
            position=50,
            title="Phone calls",
            summary="Dial into meetings with a PIN, call phones into them, watch live calls and hang them up.",
        ),
    )
    audit_kinds = {
        "pstn.sma_replay": "Refuse a replayed SMA invocation",
        "pstn.pin_lockout": "Lock out a number after wrong PINs",
        "pstn.pin_lockout_lift": "Lift a PIN lockout",
    }
