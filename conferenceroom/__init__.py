"""conferenceroom: a Python/Twisted reimplementation of the ConferenceRoom IRC server."""

__version__ = "0.1.0"
