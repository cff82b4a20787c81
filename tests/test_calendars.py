"""Persisted session lists (issue 10, point 6): the shipped ones match exchange_calendars; others are rebuilt."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from marketdash.domain import calendars


@pytest.mark.parametrize("code", calendars.CODES)
def test_shipped_session_lists_are_what_exchange_calendars_builds(code):
    shipped = np.load(calendars.SHIPPED / calendars._file_name(code), allow_pickle=False)
    built = calendars.build(code)
    np.testing.assert_array_equal(shipped[: len(built)], built[: len(shipped)])
    assert shipped[-1] >= np.datetime64(dt.date.today() + calendars.FRESH_FOR, "D"), "refresh the shipped lists"


def test_a_list_for_another_version_is_built_once_and_persisted(tmp_path, monkeypatch):
    monkeypatch.setattr(calendars, "SHIPPED", tmp_path / "shipped")  # nothing shipped for this "version"
    monkeypatch.setattr(calendars, "CACHE", tmp_path / "cache")
    calendars._session_days.cache_clear()
    try:
        days = calendars.sessions("XNYS", dt.date(2025, 12, 22), dt.date(2025, 12, 31))
        assert [d.day for d in days] == [22, 23, 24, 26, 29, 30, 31]  # Christmas closed
        assert (tmp_path / "cache" / calendars._file_name("XNYS")).is_file()
        calendars._session_days.cache_clear()
        monkeypatch.setattr(calendars, "build", lambda code: pytest.fail("rebuilt although persisted"))
        assert list(calendars.sessions("XNYS", dt.date(2025, 12, 22), dt.date(2025, 12, 31))) == list(days)
    finally:
        calendars._session_days.cache_clear()


def test_krx_sessions_skip_korean_holidays():
    days = {d.date() for d in calendars.sessions("XKRX", dt.date(2026, 2, 13), dt.date(2026, 2, 20))}
    assert dt.date(2026, 2, 13) in days and dt.date(2026, 2, 19) in days
    assert not days & {dt.date(2026, 2, 16), dt.date(2026, 2, 17), dt.date(2026, 2, 18)}  # 설날
