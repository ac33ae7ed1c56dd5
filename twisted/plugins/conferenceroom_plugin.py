"""twistd plugin: ``twistd -n conferenceroom --config FILE``."""

from twisted.application.service import ServiceMaker

conferenceroom = ServiceMaker(
    "conferenceroom",
    "conferenceroom.tap",
    "ConferenceRoom-compatible IRC server",
    "conferenceroom",
)
