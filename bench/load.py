"""Many readers on one server (issue 24): N sessions speaking Streamlit's own websocket protocol, as a browser does.

    python bench/load.py [--sessions 1,5,10,25] [--reruns 16]

One `streamlit run` process, offline on the sample store with the seven assets. Each session opens a websocket on
/_stcore/stream and sends `BackMsg.rerun_script` with a page and a query string, then reads `ForwardMsg`s until
`script_finished`: one rerun, timed from the send to that message. Sessions click with no pause between reruns (the
worst case of "everyone clicks at once") through a mix of Overview, Compare (1Y, 5Y, Max, in KRW) and Correlations
(Pearson, Spearman, weekly, a 120-session rolling window), each session starting at its own place in the mix. Every
rerun moves to another page, so each one builds its page from its URL as a reader's click does; a first pass over
the mix warms the caches (the figures are for a server that has served each view once).

Prints, for each N: latency p50/p95/max, reruns a second, the server's CPU time per rerun (user + system from
/proc: the round's total over its reruns; with one session each rerun's own too), its resident memory after the
round and the bytes sent per rerun; then the goals (CPU per rerun <= 60 ms median with one session, p95 < 1 s with
ten).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import ClientConnection, connect

from tests.browser import streamlit_server
from tests.conftest import ROOT

# (page, query string): never the same page twice in a row, the last and the first included.
MIX = [
    ("", ""),
    ("compare", "range=1Y"),
    ("correlations", ""),
    ("compare", "range=5Y"),
    ("correlations", "method=spearman"),
    ("compare", "range=Max"),
    ("correlations", "align=weekly"),
    ("compare", "range=Max&ccy=KRW"),
    ("correlations", "window=120&range=3Y"),
]
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """The process's user + system CPU time so far (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid: int) -> float:
    line = next(ln for ln in Path(f"/proc/{pid}/status").read_text().splitlines() if ln.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


class Session:
    """One reader: a websocket, and reruns sent over it one at a time."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.sent_bytes = 0

    @classmethod
    def open(cls, url: str, stack: contextlib.ExitStack) -> Session:
        """A session on the server at `url`, closed with `stack`."""
        ws = connect(f"ws{url[4:]}/_stcore/stream", subprotocols=["streamlit"], max_size=None)
        return cls(stack.enter_context(ws))

    def rerun(self, page: str, query: str) -> float:
        msg = BackMsg()
        msg.rerun_script.page_name = page
        msg.rerun_script.query_string = query
        started = time.perf_counter()
        self.ws.send(msg.SerializeToString())
        while True:
            raw = self.ws.recv()
            self.sent_bytes += len(raw)
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            kind = fwd.WhichOneof("type")
            if kind == "delta" and fwd.delta.new_element.WhichOneof("type") == "exception":
                raise RuntimeError(f"{page}?{query}: {fwd.delta.new_element.exception.message}")
            if kind == "script_finished" and fwd.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                return time.perf_counter() - started


def one_round(url: str, pid: int, sessions: int, reruns: int) -> dict:
    """`sessions` readers at once, `reruns` clicks each; latencies, throughput and the server's CPU per rerun."""
    with contextlib.ExitStack() as stack:
        return _clicking([Session.open(url, stack) for _ in range(sessions)], pid, reruns)


def _clicking(opened: list[Session], pid: int, reruns: int) -> dict:
    sessions = len(opened)
    for i, s in enumerate(opened):  # a session's first run (its page setup) is not a click
        s.rerun(*MIX[i % len(MIX)])
    latencies: list[float] = []
    cpu_each: list[float] = []  # with one session, each rerun's own server CPU
    errors: list[BaseException] = []
    lock = threading.Lock()

    def click(i: int, s: Session) -> None:
        try:
            for k in range(reruns):
                before = cpu_seconds(pid)
                took = s.rerun(*MIX[(i + 1 + k) % len(MIX)])
                with lock:
                    latencies.append(took)
                    if sessions == 1:
                        cpu_each.append(cpu_seconds(pid) - before)
        except Exception as exc:  # reported after the round
            errors.append(exc)

    threads = [threading.Thread(target=click, args=(i, s)) for i, s in enumerate(opened)]
    cpu0, wall0 = cpu_seconds(pid), time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall, cpu = time.perf_counter() - wall0, cpu_seconds(pid) - cpu0
    sent = sum(s.sent_bytes for s in opened)
    if errors:
        raise errors[0]
    latencies.sort()
    return {
        "n": sessions,
        "p50": statistics.median(latencies),
        "p95": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
        "max": latencies[-1],
        "rate": len(latencies) / wall,
        "cpu": cpu / len(latencies),
        "cpu_median": statistics.median(cpu_each) if cpu_each else float("nan"),
        "rss": rss_mib(pid),
        "kib": sent / 1024 / (len(latencies) + sessions),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", default="1,5,10,25", help="comma-separated session counts")
    parser.add_argument("--reruns", type=int, default=18, help="clicks per session in each round")
    parser.add_argument("--app", type=Path, default=ROOT / "app.py", help="the app to serve (another checkout's)")
    args = parser.parse_args()
    counts = [int(n) for n in args.sessions.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KIS_", "UPBIT_", "BITHUMB_", "DASHBOARD_"))}
        env.update(MARKET_DB=str(Path(tmp) / "market.duckdb"), DASHBOARD_OFFLINE="1")
        with streamlit_server(env, script=args.app.resolve(), log=Path(tmp) / "streamlit.log") as (url, proc):
            with contextlib.ExitStack() as stack:
                warm = Session.open(url, stack)
                for page, query in MIX * 2:  # every view served once: the sample store built, the caches filled
                    warm.rerun(page, query)
            print(f"{'sessions':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'reruns/s':>9} {'CPU ms/rerun':>13}"
                  f" {'RSS MiB':>8} {'KiB/rerun':>10}")  # fmt: skip
            rounds = []
            for n in counts:
                r = one_round(url, proc.pid, n, args.reruns)
                rounds.append(r)
                print(f"{n:>8} {r['p50'] * 1000:>8.0f} {r['p95'] * 1000:>8.0f} {r['max'] * 1000:>8.0f} "
                      f"{r['rate']:>9.2f} {r['cpu'] * 1000:>13.1f} {r['rss']:>8.0f} {r['kib']:>10.0f}")  # fmt: skip
    by_n = {r["n"]: r for r in rounds}
    if 1 in by_n:
        one = by_n[1]
        print(f"server CPU per rerun, one session: median {one['cpu_median'] * 1000:.0f} ms (goal <= 60 ms), "
              f"mean {one['cpu'] * 1000:.0f} ms")  # fmt: skip
    if 10 in by_n:
        print(f"p95 latency, ten sessions: {by_n[10]['p95']:.2f} s (goal < 1 s)")


if __name__ == "__main__":
    main()
