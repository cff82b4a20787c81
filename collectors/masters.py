"""The symbol lists: KIS's master zips (public, no key; `KIS_MASTER_URL`) and Upbit's market list.

Each list is fetched, unpacked and parsed here; the service validates its count against the stored list and keeps
the old one on any failure. The as-of date is the zip member's timestamp (the content's date; the HTTP
Last-Modified is when the archive was repacked).
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass

import pandas as pd

from collectors.errors import CollectorError
from collectors.http import HttpClient
from marketdash.domain import clock
from marketdash.domain.config import Settings
from marketdash.domain.i18n import msg
from marketdash.domain.symbols import MasterError, MasterList


@dataclass(frozen=True)
class Fetched:
    name: str
    symbols: pd.DataFrame
    as_of: dt.date


def unzip_single(data: bytes, name: str) -> tuple[bytes, dt.date]:
    """The one file inside a master archive, found by listing it (the US members are upper case), and its date."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise MasterError(msg("sym.not_zip", name=name)) from None
    with archive:
        members = [i for i in archive.infolist() if not i.is_dir()]
        if not members:
            raise MasterError(msg("sym.empty", name=name))
        info = members[0]
        return archive.read(info), dt.date(*info.date_time[:3])


class MasterSource:
    """Downloads the lists: KIS's host for the zips, Upbit's for its market list."""

    def __init__(self, settings: Settings) -> None:
        self.kis = HttpClient(settings.kis_master_url, service="KIS", max_rps=4.0, max_attempts=3,
                              timeout=(5.0, 60.0))  # fmt: skip
        self.upbit = HttpClient(settings.upbit_base_url, service="Upbit", max_rps=4.0, max_attempts=3)

    def fetch(self, master: MasterList) -> Fetched:
        if master.archive is None:
            reply = self.upbit.request("GET", "/v1/market/all", params={"isDetails": "true"})
            if reply.status != 200:
                raise CollectorError(msg("sym.http", name=master.name, status=reply.status))
            return Fetched(master.name, master.parse(reply.json("Upbit")), clock.today_kst())
        reply = self.kis.request("GET", f"/{master.archive}")
        if reply.status != 200:
            raise CollectorError(msg("sym.http", name=master.name, status=reply.status))
        if reply.body is not None or not reply.content:
            raise MasterError(msg("sym.not_zip", name=master.name))
        content, as_of = unzip_single(reply.content, master.name)
        return Fetched(master.name, master.parse(content), as_of)
