"""Streaming probes for run.sh.

ttfb URL BODY N [Header: value ...]
    N sequential streaming calls on one keep-alive connection; prints "TTFB p50=.. p90=.. p99=.."
    in ms, the time from sending the request to the first byte of the body (the first SSE event).
slow URL BODY CONC PID [Header: value ...]
    CONC concurrent streaming calls against a slow upstream; samples the gateway's VmRSS (PID)
    once a second and prints "SLOW ..." with the RSS before, once all streams are open, at the
    middle, at the end, the peak, and the number of streams that completed with [DONE]."""
import asyncio
import http.client
import statistics
import sys
import time
from urllib.parse import urlparse


def headers_from(args):
    h = {"Content-Type": "application/json"}
    for a in args:
        k, _, v = a.partition(":")
        h[k.strip()] = v.strip()
    return h


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def ttfb(url, body, n, extra):
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    hdrs = headers_from(extra)
    times, errors = [], 0
    for i in range(n + 5):
        t0 = time.perf_counter()
        conn.request("POST", u.path, body=body, headers=hdrs)
        resp = conn.getresponse()
        first = resp.read(1)
        t1 = time.perf_counter()
        rest = resp.read()
        if resp.status != 200 or not first or b"[DONE]" not in rest:
            errors += 1
        if i >= 5:  # the first calls warm up connections
            times.append((t1 - t0) * 1000)
    print("TTFB p50=%.3f p90=%.3f p99=%.3f mean=%.3f errors=%d" % (
        pct(times, 50), pct(times, 90), pct(times, 99), statistics.mean(times), errors))


def rss_kb(pid, field="VmRSS"):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0


async def one_stream(u, body, hdrs, state):
    try:
        reader, writer = await asyncio.open_connection(u.hostname, u.port)
    except OSError:
        state["failed"] += 1
        return
    head = "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nConnection: close\r\n" % (
        u.path, u.netloc, len(body))
    head += "".join("%s: %s\r\n" % kv for kv in hdrs.items()) + "\r\n"
    writer.write(head.encode() + body)
    state["open"] += 1
    tail = b""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            state["bytes"] += len(data)
            tail = (tail + data)[-64:]
    except OSError:
        pass
    state["open"] -= 1
    if b"[DONE]" in tail:
        state["done"] += 1
    else:
        state["failed"] += 1
    writer.close()


async def slow(url, body, conc, pid, extra):
    u = urlparse(url)
    hdrs = headers_from(extra)
    state = {"open": 0, "done": 0, "failed": 0, "bytes": 0}
    before = rss_kb(pid)
    tasks = [asyncio.create_task(one_stream(u, body, hdrs, state)) for _ in range(conc)]
    samples = []
    t0 = time.monotonic()
    while not all(t.done() for t in tasks):
        await asyncio.sleep(1)
        samples.append((time.monotonic() - t0, state["open"], state["bytes"], rss_kb(pid)))
        print("  t=%.0fs open=%d bytes=%d rss=%d kB" % samples[-1], file=sys.stderr)
    await asyncio.gather(*tasks)
    full = [s for s in samples if s[1] >= conc * 0.95] or samples
    first, mid, last = full[0], full[len(full) // 2], full[-1]
    print("SLOW before=%d open=%d mid=%d end=%d peak=%d done=%d failed=%d growth_kb_per_mb=%.1f" % (
        before, first[3], mid[3], last[3], rss_kb(pid, "VmHWM"), state["done"], state["failed"],
        (last[3] - first[3]) / max(1e-9, (last[2] - first[2]) / 1e6)))


def main():
    mode, url, body_file = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(body_file, "rb") as f:
        body = f.read()
    if mode == "ttfb":
        ttfb(url, body, int(sys.argv[4]), sys.argv[5:])
    elif mode == "slow":
        asyncio.run(slow(url, body, int(sys.argv[4]), int(sys.argv[5]), sys.argv[6:]))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
