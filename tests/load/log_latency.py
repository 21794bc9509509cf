"""Where the time of a load shape went, from auditgate's own audit log.

Usage:
  python3 log_latency.py LOG_DB size            -> prints the number of entries in the log
  python3 log_latency.py LOG_DB span FROM TO    -> one LOGLAT line for response entries in [FROM, TO)

A response entry's `latency_ms` runs from reading the request to just before the response entry is
appended (so it includes the request entry's durable append), and `attempts[].latency_ms` is each
upstream call. What a client measures beyond `latency_ms` is the response entry's append and the
send. Only the Python standard library is used (the log is SQLite, opened read-only while the
gateway runs).
"""
import json
import sqlite3
import sys


def connect(path):
    return sqlite3.connect("file:%s?mode=ro" % path, uri=True)


def size(db):
    (n,) = db.execute("SELECT count(*) FROM entries").fetchone()
    return n


def quantile(values, q):
    return values[min(len(values) - 1, int(len(values) * q))] if values else 0.0


def span(db, lo, hi):
    inside, upstream = [], []
    rows = db.execute("SELECT bytes FROM entries WHERE seq >= ? AND seq < ? AND kind = 'response'", (lo, hi))
    for (raw,) in rows:
        payload = json.loads(raw)["payload"]
        if payload.get("status") != 200 or not payload.get("attempts"):
            continue
        up = sum(a.get("latency_ms") or 0.0 for a in payload["attempts"])
        inside.append(payload["latency_ms"])
        upstream.append(up)
    inside.sort()
    upstream.sort()
    fields = ["calls=%d" % len(inside)]
    for name, values in (("gw", inside), ("up", upstream)):
        for label, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)):
            fields.append("%s_%s=%.3f" % (name, label, quantile(values, q)))
    return "LOGLAT " + " ".join(fields)


def main():
    db = connect(sys.argv[1])
    if sys.argv[2] == "size":
        print(size(db))
    else:
        print(span(db, int(sys.argv[3]), int(sys.argv[4])))


if __name__ == "__main__":
    main()
