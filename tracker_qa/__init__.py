"""tracker_qa: test what a site's tracking sends and stores, with pytest and Playwright.

Installed with ``pip install "tracker[qa]"``; the pytest plugin (:mod:`tracker_qa.plugin`)
registers the fixtures ``tracker_capture``, ``tracker_state`` and ``tracker_faults``; the
assertions below take what they return.
"""

from .assertions import (
    assert_delivered_once,
    assert_no_identifier_leaked,
    assert_nothing_stored,
    assert_server_anonymisation,
    known_identifiers,
)
from .calls import record_calls
from .capture import Capture, CapturedEvent, CapturedRequest, decode_pixel
from .faults import Faults
from .state import PageState, decode_stored, read_state, wait_ready

__all__ = [
    "Capture",
    "CapturedEvent",
    "CapturedRequest",
    "Faults",
    "PageState",
    "assert_delivered_once",
    "assert_no_identifier_leaked",
    "assert_nothing_stored",
    "assert_server_anonymisation",
    "decode_pixel",
    "decode_stored",
    "known_identifiers",
    "read_state",
    "record_calls",
    "wait_ready",
]
