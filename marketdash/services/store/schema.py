"""The store's tables (SPEC.md, "The store"), created on first use; older stores gain the columns added since."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS prices (
    asset_id VARCHAR NOT NULL, date DATE NOT NULL,
    open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE NOT NULL, volume DOUBLE,
    currency VARCHAR, source VARCHAR, fetched_at TIMESTAMP, source_rank INTEGER DEFAULT 0,
    PRIMARY KEY (asset_id, date)
);
CREATE TABLE IF NOT EXISTS snapshots (
    asset_id VARCHAR NOT NULL, quoted_at TIMESTAMP NOT NULL, price DOUBLE NOT NULL, prev_close DOUBLE,
    currency VARCHAR, source VARCHAR, fetched_at TIMESTAMP, market_state VARCHAR, time_from_source BOOLEAN,
    PRIMARY KEY (asset_id, quoted_at)
);
CREATE TABLE IF NOT EXISTS quote_errors (
    asset_id VARCHAR PRIMARY KEY, failed_at TIMESTAMP, source VARCHAR, message VARCHAR, message_key VARCHAR
);
CREATE SEQUENCE IF NOT EXISTS fetch_log_id;
CREATE TABLE IF NOT EXISTS fetch_log (
    id BIGINT DEFAULT nextval('fetch_log_id'), asset_id VARCHAR, source VARCHAR,
    started_at TIMESTAMP, finished_at TIMESTAMP, start_date DATE, end_date DATE,
    rows INTEGER, status VARCHAR, message VARCHAR, message_key VARCHAR
);
-- message: the English sentence (the command line); message_key: the same as a catalog key with its parameters,
-- so pages say it in the reader's language. Stores from before it gain the column.
ALTER TABLE fetch_log ADD COLUMN IF NOT EXISTS message_key VARCHAR;
ALTER TABLE quote_errors ADD COLUMN IF NOT EXISTS message_key VARCHAR;
-- The symbol lists (KIS masters, Upbit's markets): replaced whole, one list at a time, only by a list that passed
-- validation; symbol_lists says when each was fetched, its content date, and the last failure.
CREATE TABLE IF NOT EXISTS symbols (
    id VARCHAR PRIMARY KEY, list VARCHAR, code VARCHAR, name_ko VARCHAR, name_en VARCHAR, market VARCHAR,
    kind VARCHAR, exchange VARCHAR, symbol_class VARCHAR, warnings VARCHAR
);
CREATE TABLE IF NOT EXISTS symbol_lists (
    list VARCHAR PRIMARY KEY, as_of DATE, fetched_at TIMESTAMP, rows INTEGER, tried_at TIMESTAMP,
    error VARCHAR, error_key VARCHAR
);
-- What a quote's price is (live, delayed, or the close of `session`): stores from before it read as live.
ALTER TABLE snapshots ADD COLUMN IF NOT EXISTS quote_kind VARCHAR;
ALTER TABLE snapshots ADD COLUMN IF NOT EXISTS session DATE;
-- A quote taken while its market was closed is a close (market_clock.taken); stores from before that called it live.
-- Its session stays blank: readers date it by the last session before its time (market_clock.session_of).
UPDATE snapshots SET quote_kind = 'close'
WHERE coalesce(quote_kind, 'live') = 'live' AND market_state IN ('closed', 'break');
-- The user's own added assets, in the order added (the seven are always there).
CREATE TABLE IF NOT EXISTS user_assets (asset_id VARCHAR PRIMARY KEY, added_at TIMESTAMP);
-- What KIS's stock information said a KRX code is (its 증권그룹), asked once for codes no symbol list names yet.
CREATE TABLE IF NOT EXISTS security_groups (id VARCHAR PRIMARY KEY, grp VARCHAR, fetched_at TIMESTAMP);
-- Cash dividends per share, gross, in `currency` (KIS's records). `fixed`: the source says the amount and dates
-- will not change; a fixed row is never replaced by an unfixed one. `ex_date`: the source's (US), or the T+2 rule
-- on the exchange calendar when fetched (KRX; the engine derives it again from the stored bars).
CREATE TABLE IF NOT EXISTS dividends (
    asset_id VARCHAR NOT NULL, record_date DATE NOT NULL, ex_date DATE, pay_date DATE, amount DOUBLE,
    currency VARCHAR, kind VARCHAR NOT NULL, fixed BOOLEAN, source VARCHAR, fetched_at TIMESTAMP,
    PRIMARY KEY (asset_id, record_date, kind)
);
-- What an attempt fetched: 'prices' (daily bars) or 'dividends'. Stores from before it hold price attempts only.
ALTER TABLE fetch_log ADD COLUMN IF NOT EXISTS dataset VARCHAR DEFAULT 'prices';
"""
