"""The inference API under load: ``/v1/predict/price`` p50/p99 latency and predictions/s, the client in a
separate process, with inference batching on and off (the same server build, restarted), in one run.

The guide's targets: p99 < 100 ms and > 1,000 predictions/s (a prediction is one answered request:
one asset's full 7-day forecast). Both servers run with the benchmark key's rate limit set far
above the load (stated in the output), on this machine's cores shared by server and client.
Writes ``runs/evidence/api_bench.json`` (the batching-on figures) for the acceptance table;
``--soak SECONDS`` also runs a soak (every request must succeed) and writes ``api_soak.json``.
Needs a registered forecaster and policy (``make demo`` trains both). Run::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_api.py [--seconds 20] [--concurrency 24] [--soak 600]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RATE_LIMIT = "1000000/second"
ASSETS = ("BTC", "ETH", "SOL")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tmp: Path, batching: bool):
    import httpx

    from prometheus_sim.api.keys import KeyStore

    keys = tmp / "keys.json"
    if keys.exists():
        keys.unlink()
    key = KeyStore(keys).add("bench")
    port = free_port()
    cmd = [sys.executable, "-m", "prometheus_sim.cli", "serve", "--market", "default", "--port", str(port),
           "--keys-file", str(keys), "--step-seconds", "0", "--rate-limit", RATE_LIMIT,
           "--batching" if batching else "--no-batching"]  # fmt: skip
    log = open(tmp / f"server-{'batch' if batching else 'single'}.log", "w")  # noqa: SIM115 - closed in stop
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: {(tmp / log.name).read_text()[-2000:]}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, log, url, key
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("the server did not become ready (is a forecaster registered? run `make demo`)")


def stop_server(proc, log) -> None:
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def client(url: str, key: str, seconds: float, concurrency: int, out) -> None:
    """The load: ``concurrency`` requests in flight for ``seconds`` (aiohttp: the lightest client at hand, so the
    shared cores go to the server); latencies (s) and failures back on ``out``."""
    import aiohttp

    async def run():
        latencies, failures = [], 0
        stop_at = time.perf_counter() + seconds
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(url, headers={"X-API-Key": key}, connector=connector) as http:

            async def worker(i: int):
                nonlocal failures
                k = i
                while time.perf_counter() < stop_at:
                    t0 = time.perf_counter()
                    try:
                        async with http.post("/v1/predict/price", json={"asset": ASSETS[k % 3], "horizon": 7}) as r:
                            await r.read()
                            ok = r.status == 200
                    except aiohttp.ClientError:
                        ok = False
                    if ok:
                        latencies.append(time.perf_counter() - t0)
                    else:
                        failures += 1
                    k += 1

            started = time.perf_counter()
            await asyncio.gather(*(worker(i) for i in range(concurrency)))
            return latencies, failures, time.perf_counter() - started

    out.put(asyncio.run(run()))


def load(url: str, key: str, seconds: float, concurrency: int) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=client, args=(url, key, seconds, concurrency, q))
    p.start()
    latencies, failures, duration = q.get()
    p.join()
    lat = np.array(latencies) * 1000
    return {"p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
            "predictions_per_s": len(lat) / duration, "n_requests": len(lat) + failures, "failed": failures,
            "duration_s": duration}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=24,
        help="Requests in flight (24: the p99 target holds; 64: more throughput, p99 above it).",
    )
    parser.add_argument(
        "--soak", type=float, default=0.0, help="Also soak this many seconds (the guide's uptime proxy)."
    )
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for batching in (True, False):
            proc, log, url, key = start_server(Path(tmp), batching)
            try:
                load(url, key, 3.0, args.concurrency)  # warm-up
                results[batching] = load(url, key, args.seconds, args.concurrency)
                if batching and args.soak > 0:
                    soak = load(url, key, args.soak, max(4, args.concurrency // 8))
            finally:
                stop_server(proc, log)
    on, off = results[True], results[False]
    print(f"/v1/predict/price, {args.concurrency} requests in flight from a separate process, {args.seconds:g} s each, "
          f"{cores} cores shared by server and client; the benchmark key's rate limit {RATE_LIMIT}")  # fmt: skip
    for label, r in (("batching on ", on), ("batching off", off)):
        print(f"  {label}: p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, {r['predictions_per_s']:,.0f} predictions/s "
              f"({r['predictions_per_s'] / cores:,.0f} per core), {r['failed']} failed")  # fmt: skip
    print(
        f"  batching on / off: {on['predictions_per_s'] / off['predictions_per_s']:.2f}x throughput, "
        f"p99 {on['p99_ms'] / off['p99_ms']:.2f}x"
    )
    # never "met" on a run in which requests failed: the latencies count only the ones that succeeded (the acceptance
    # table refused such evidence; the console still said met; review of 2026-12-05, session 19)
    clean = on["failed"] == 0
    p99_ok, rate_ok = clean and on["p99_ms"] < 100, clean and on["predictions_per_s"] > 1000
    failed = "" if clean else f"; {on['failed']} requests failed, so neither can be met"
    print(f"  the guide's targets: p99 < 100 ms {'met' if p99_ok else 'MISSED'}; > 1,000 predictions/s "
          f"{'met' if rate_ok else 'MISSED'} (on {cores} shared cores{failed})")  # fmt: skip
    from prometheus_sim.evidence import write_evidence

    command = "python benchmarks/bench_api.py " + " ".join(sys.argv[1:])
    data = {k: on[k] for k in ("p50_ms", "p99_ms", "predictions_per_s", "n_requests", "duration_s")}
    out = write_evidence(ROOT / "runs" / "evidence" / "api_bench.json", "api_bench",
                         {**data, "failed_requests": on["failed"]}, command)  # fmt: skip
    print(f"wrote {out}")
    if args.soak > 0:
        print(f"soak: {soak['n_requests']:,} requests over {soak['duration_s']:.0f} s, {soak['failed']} failed")
        write_evidence(ROOT / "runs" / "evidence" / "api_soak.json", "api_soak",
                       {"duration_s": soak["duration_s"], "n_requests": soak["n_requests"],
                        "failed_requests": soak["failed"]}, command)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
