"""The DuckDB store (SPEC.md, "The store"): one class over one file, its parts each in a module of its own.

- files.py: the file's life cycle (one instance per process, open only around calls, another process's lock
  waited for), cursors, transactions, and the errors a store can raise;
- schema.py: the tables;
- prices.py, quotes.py, symbols.py, dividends.py: each group of tables' queries;
- backup.py: export as Parquet, and the merge of a backup.
"""

from marketdash.services.store.backup import Backups
from marketdash.services.store.dividends import DividendTables
from marketdash.services.store.files import (
    StoreBusyError,
    StoreError,
    StoreFile,
    StoreUnreadableError,
    StoreWriteError,
    utcnow,
)
from marketdash.services.store.prices import FetchAttempt, PriceTables
from marketdash.services.store.quotes import QuoteTables
from marketdash.services.store.symbols import SymbolTables

__all__ = ["FetchAttempt", "Store", "StoreBusyError", "StoreError", "StoreUnreadableError", "StoreWriteError", "utcnow"]


class Store(PriceTables, QuoteTables, SymbolTables, DividendTables, Backups, StoreFile):
    """The user's store (or the sample's): every table's queries on one file."""
