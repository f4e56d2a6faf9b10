"""server.gcpause: one counted pause of the cyclic collector, nested and across threads."""

from __future__ import annotations

import gc
import threading

from server.gcpause import cycle_collector_paused


def test_nested_pauses_restore_the_collector_once_at_the_end():
    assert gc.isenabled()
    with cycle_collector_paused():
        assert not gc.isenabled()
        with cycle_collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner end does not switch it back on
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off():
    gc.disable()
    try:
        with cycle_collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_threads_share_the_pause_until_the_last_ends():
    first_in, second_done, release = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first() -> None:
        with cycle_collector_paused():
            first_in.set()
            release.wait(10)
            seen["first"] = gc.isenabled()

    def second() -> None:
        first_in.wait(10)
        with cycle_collector_paused():
            pass
        seen["after_second"] = gc.isenabled()  # the first request is still running
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    second_done.wait(10)
    release.set()
    for t in threads:
        t.join(10)
    assert seen == {"first": False, "after_second": False}
    assert gc.isenabled()


def test_an_exception_still_ends_the_pause():
    try:
        with cycle_collector_paused():
            raise ValueError("boom")
    except ValueError:
        pass
    assert gc.isenabled()
