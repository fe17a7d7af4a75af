"""`make bench`'s figures of the `make run` stack (issue 12, finding 13): 50 parallel clients,
its memory and /dev/sms after a long run of SMS and requests, and how long a SIGTERM takes.

    python -m bench.stack        # the figures alone, as JSON

The stack runs as `make run` runs it, as a subprocess on free ports (tests/local_stack_process).
"""
from __future__ import annotations

import json
import signal
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CLIENTS = 50
SMS = 1500
REQUESTS = 1500
MAX_STOP_SECONDS = 10.0
MAX_RSS_GROWTH_MB = 150.0


def rss_mb(pid: int) -> float:
    """The resident memory of `pid` and its children, in MB (Linux /proc)."""
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            pids += [int(child) for child in children.read().split()]
    except OSError:
        pass
    total = 0
    for one in pids:
        try:
            with open(f"/proc/{one}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def session():
    import requests
    http = requests.Session()
    http.trust_env = False
    return http


def burst(url: str) -> dict:
    """CLIENTS clients at once, each on its own connection: config, reset start, page, /dev/sms."""
    barrier = threading.Barrier(CLIENTS)
    statuses: list[int] = []
    errors: list[str] = []

    def client(i):
        barrier.wait(30)
        try:
            with session() as http:
                statuses.append(http.get(url + "/api/config", timeout=60).status_code)
                statuses.append(http.post(url + "/api/reset/start",
                                          json={"username": f"bench{i}", "phone": "0701234567"}, timeout=60).status_code)
                statuses.append(http.get(url + "/", timeout=60).status_code)
                statuses.append(http.get(url + "/dev/sms", timeout=60).status_code)
        except Exception as error:  # noqa: BLE001 (counted)
            errors.append(type(error).__name__)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return {"clients": CLIENTS, "requests": len(statuses) + len(errors),
            "seconds": round(time.perf_counter() - started, 2),
            "errors": len(errors), "error_kinds": sorted(set(errors)),
            "server_errors": sum(1 for status in statuses if status >= 500)}


def measure_stack() -> dict:
    import boto3

    from tests.local_stack_process import RunningStack

    running = RunningStack()
    try:
        running.wait_until_ready()
        pid = running.process.pid
        figures = {"rss_start_mb": rss_mb(pid), "burst": burst(running.url)}
        sns = boto3.client("sns", endpoint_url=f"http://127.0.0.1:{running.moto_port}",
                           region_name="eu-north-1", aws_access_key_id="local",
                           aws_secret_access_key="local")
        for n in range(SMS):
            sns.publish(PhoneNumber="+46701112233", Message=f"bench #{n:06d}")
        with session() as http:
            for n in range(REQUESTS):
                http.post(running.url + "/api/reset/start", json={"username": f"long{n}", "phone": "0701234567"},
                          timeout=30)
            times, size = [], 0
            for _ in range(7):
                started = time.perf_counter()
                answer = http.get(running.url + "/dev/sms", timeout=30)
                times.append(time.perf_counter() - started)
                size = len(answer.content)
                shown = len(answer.json()["messages"])
        figures.update(sms_published=SMS, requests_after=REQUESTS,
                       dev_sms_ms=round(statistics.median(times) * 1000, 1),
                       dev_sms_bytes=size, dev_sms_messages=shown, rss_end_mb=rss_mb(pid))
        started = time.perf_counter()
        running.process.send_signal(signal.SIGTERM)
        code = running.process.wait(60)
        figures.update(stop_seconds=round(time.perf_counter() - started, 2), stop_code=code)
        return figures
    finally:
        running.kill()


def add_figures(figures, found: dict) -> None:
    """The stack's rows in bench/run.py's table."""
    burst_ = found["burst"]
    failures = burst_["errors"] + burst_["server_errors"]
    figures.add(f"stack: {burst_['clients']} parallel clients, resets + 5xx", failures,
                f"{burst_['errors']} + {burst_['server_errors']} of {burst_['requests']} "
                f"({burst_['seconds']:.1f} s)", "0", failures == 0)
    growth = found["rss_end_mb"] - found["rss_start_mb"]
    figures.add(f"stack: memory after {found['sms_published']} SMS + "
                f"{found['requests_after']} requests", growth,
                f"{found['rss_start_mb']:.0f} -> {found['rss_end_mb']:.0f} MB",
                f"< +{MAX_RSS_GROWTH_MB:.0f} MB", growth < MAX_RSS_GROWTH_MB)
    figures.add("stack: /dev/sms after them", found["dev_sms_ms"],
                f"{found['dev_sms_ms']:.1f} ms, {found['dev_sms_messages']} SMS, "
                f"{found['dev_sms_bytes'] / 1024:.0f} KB", "-", None)
    figures.add("stack: SIGTERM to exit", found["stop_seconds"],
                f"{found['stop_seconds']:.1f} s (code {found['stop_code']})",
                f"< {MAX_STOP_SECONDS:.0f} s",
                found["stop_seconds"] < MAX_STOP_SECONDS and found["stop_code"] == 0)


if __name__ == "__main__":
    print(json.dumps(measure_stack(), indent=2))
