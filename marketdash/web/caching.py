"""Reads every session shares, each hit handed out as a copy that costs nothing until it is written to.

`st.cache_data` unpickles its value on every hit so that a caller may change it: on a rerun of an unchanged view
that was the largest single cost after drawing (a Max-range bars frame, or a portfolio's run, about 4 ms of a 35 ms
Correlations rerun). Under pandas' copy-on-write a shallow copy gives the same guarantee for free: the cached object
is never changed through what a page was handed (`fresh_view`), and it is built once per process as before.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, ParamSpec, Protocol, TypeVar

import numpy as np
import pandas as pd
import streamlit as st

P = ParamSpec("P")
R = TypeVar("R", covariant=True)


class SharedRead(Protocol[P, R]):
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R: ...

    def clear(self) -> None: ...


_EVERY: list[SharedRead] = []  # every shared read, for clear_all


def shared(*, ttl: float, max_entries: int | None = None) -> Callable[[Callable[P, R]], SharedRead[P, R]]:
    """Like `st.cache_data(ttl, max_entries)`: one value per argument tuple, kept `ttl` seconds, dropped by
    `.clear()` (or `clear_all`); but the value lives once in the process and every hit is a `fresh_view` of it."""

    def wrap(func: Callable[P, R]) -> SharedRead[P, R]:
        cached = st.cache_resource(ttl=ttl, max_entries=max_entries, show_spinner=False)(func)

        @functools.wraps(func)
        def read(*args: P.args, **kwargs: P.kwargs) -> R:
            return fresh_view(cached(*args, **kwargs))

        read.clear = cached.clear  # type: ignore[attr-defined]
        _EVERY.append(read)  # type: ignore[arg-type]
        return read  # type: ignore[return-value]

    return wrap


def clear_all() -> None:
    """Drop every shared read's values: the store changed under them (a fetch stored bars)."""
    for read in _EVERY:
        read.clear()


def fresh_view(value: Any) -> Any:
    """`value` with every frame, series, dict, list, tuple and dataclass in it new, their data shared: writing to what
    this returns never reaches `value` (pandas copies a shared block on its first write; a shared array is
    read-only, so writing to one raises instead of changing the cache)."""
    if isinstance(value, pd.DataFrame | pd.Series):
        return value.copy(deep=False)
    if isinstance(value, np.ndarray):
        view = value.view()
        view.flags.writeable = False
        return view
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: fresh_view(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **fields)
    if type(value) is dict:
        return {k: fresh_view(v) for k, v in value.items()}
    if isinstance(value, list):
        return [fresh_view(v) for v in value]
    if isinstance(value, tuple):
        items = [fresh_view(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)  # a named tuple keeps its names
    return value
