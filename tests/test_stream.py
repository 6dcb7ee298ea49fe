"""The threaded stage pipeline under the lip-sync engine (lipdub/lipsync/_stream.py)."""

from __future__ import annotations

import threading
import time

import pytest

from lipdub.lipsync._stream import END, BoundedQueue, StagePipeline, Stopped


def test_back_pressure_keeps_queue_within_its_bound() -> None:
    p = StagePipeline()
    q: BoundedQueue[int] = BoundedQueue(p, "q", 3)

    def produce() -> None:
        for i in range(200):
            q.put(i)
        q.put_end()

    p.add_stage("produce", produce)
    p.start()
    got = []
    for item in q.drain():  # the producer runs ahead until the queue is full, then waits
        got.append(item)
    p.close()
    p.raise_if_failed()
    assert got == list(range(200))
    assert 1 <= q.peak <= 3


def test_first_error_wins_and_stops_blocked_stages() -> None:
    p = StagePipeline(poll_s=0.01)
    a: BoundedQueue[int] = BoundedQueue(p, "a", 1)
    b: BoundedQueue[int] = BoundedQueue(p, "b", 1)

    def produce() -> None:
        i = 0
        while True:  # blocks on the full queue forever unless stopped
            a.put(i)
            i += 1

    def fail() -> None:
        a.get()
        raise KeyError("first")

    def fail_later() -> None:
        b.get()  # nothing ever arrives: blocked until the stop event
        raise ValueError("second")

    for name, fn in (("produce", produce), ("fail", fail), ("later", fail_later)):
        p.add_stage(name, fn)
    p.start()
    assert p.stop.wait(5), "the failing stage did not stop the pipeline"
    p.close(timeout_s=2)
    assert p.error is not None
    assert p.error[0] == "fail" and isinstance(p.error[1], KeyError)
    assert not any(t.is_alive() for t in p._threads)
    with pytest.raises(KeyError):
        p.raise_if_failed()


def test_get_and_put_raise_stopped_when_stopping() -> None:
    p = StagePipeline(poll_s=0.01)
    q: BoundedQueue[int] = BoundedQueue(p, "q", 1)
    q.put(1)
    p.stop.set()
    with pytest.raises(Stopped):
        q.put(2)
    with pytest.raises(Stopped):
        q.get()


def test_busy_time_excludes_waiting() -> None:
    p = StagePipeline(poll_s=0.01)
    q: BoundedQueue[int] = BoundedQueue(p, "q", 1)

    def produce() -> None:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 0.05:  # 50 ms of work
            pass
        q.put(1)
        q.put_end()

    p.add_stage("produce", produce)

    def consume() -> None:
        with p.stage_clock("consume"):
            assert list(q.drain()) == [1]  # mostly waiting for the producer

    p.start()
    consume()
    p.close()
    busy = p.busy_s()
    assert busy["produce"] > busy["consume"]  # the consumer mostly waited on the queue
    assert busy["consume"] < p.stages["consume"].wall_s
    assert p.stages["produce"].items == 1


def test_end_sentinel_and_bad_size() -> None:
    p = StagePipeline()
    q: BoundedQueue[int] = BoundedQueue(p, "q", 2)
    q.put(5)
    q.put_end()
    assert q.get() == 5
    assert q.get() is END
    with pytest.raises(ValueError, match="maxsize"):
        BoundedQueue(p, "bad", 0)
    assert threading.active_count() >= 1
