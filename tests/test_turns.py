"""Page runs take turns (issue 32, marketdash/web/turns.py): first come, first served; a run's turn ends with its
thread, or while it waits for other work; a run that holds the line too long stops holding it."""

from __future__ import annotations

import threading
import time

from marketdash.web import turns


def _run(line: turns._Line, log: list, name: str, work: float = 0.05, wait: threading.Event | None = None) -> None:
    line.take()
    log.append(("in", name, time.monotonic()))
    if wait is not None:
        with line.stepped_out():
            wait.wait(5)
    time.sleep(work)
    log.append(("out", name, time.monotonic()))


def _threads(targets) -> list[threading.Thread]:
    threads = []
    for target in targets:
        th = threading.Thread(target=target)
        th.start()
        threads.append(th)
        time.sleep(0.01)  # each takes its ticket before the next comes
    return threads


def test_runs_draw_one_at_a_time_in_the_order_they_came():
    line, log = turns._Line(), []
    threads = _threads([lambda n=n: _run(line, log, n) for n in "abcde"])
    for th in threads:
        th.join(5)
    assert [name for kind, name, _ in log if kind == "in"] == list("abcde")
    assert [kind for kind, _, _ in log] == ["in", "out"] * 5  # never two inside at once


def test_a_run_waiting_for_a_fetch_lets_the_others_draw_meanwhile():
    line, log, fetched = turns._Line(), [], threading.Event()
    first = threading.Thread(target=_run, args=(line, log, "waits"), kwargs={"wait": fetched})
    first.start()
    time.sleep(0.05)
    others = _threads([lambda n=n: _run(line, log, n) for n in "bc"])
    for th in others:
        th.join(5)
    assert [name for kind, name, _ in log if kind == "out"] == ["b", "c"]  # drawn while the first one waited
    fetched.set()
    first.join(5)
    assert log[-1][:2] == ("out", "waits")


def test_a_turn_ends_with_its_thread_and_a_long_one_stops_holding_the_line(monkeypatch):
    line, log = turns._Line(), []
    done = threading.Thread(target=line.take)  # takes the turn and ends without giving it back by hand
    done.start()
    done.join(5)
    started = time.monotonic()
    line.take()  # at once: the ended thread's turn went with it
    assert time.monotonic() - started < turns.HOLD_MAX / 2
    monkeypatch.setattr(turns, "HOLD_MAX", 0.2)
    waiter = threading.Thread(target=_run, args=(line, log, "next"))
    waiter.start()  # this thread keeps its turn (as a run stuck on a busy store would)
    waiter.join(5)
    assert log and log[0][1] == "next" and log[0][2] - started >= 0.2  # it started beside it, after HOLD_MAX
