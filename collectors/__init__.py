"""Data sources. Each module owns one source's wire format; `http` owns throttling, retries and typed errors."""
