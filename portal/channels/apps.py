from django.apps import AppConfig

from portal.core.sections import Section


class ChannelsConfig(AppConfig):
    name = "portal.channels"
    label = "channels"
    verbose_name = "KVS signaling channels"
    sections = (
        Section(
            label="Channels",
            url_name="channels",
            position=30,
            title="Signaling channels",
            summary=(
                "Kinesis Video Streams WebRTC signaling channels: fleets created at AWS's quota, versioned updates, "
                "endpoints and ICE servers."
            ),
            figures="portal.channels.selectors.channels_figures",
        ),
    )
