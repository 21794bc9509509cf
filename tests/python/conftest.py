"""Real-client tests: the official Python SDKs against a real `auditgate serve` process.

The gateway runs with the shipped policy (policies/) and the built-in demo upstreams, in a temporary
data directory, on an ephemeral port. AUDITGATE_BIN names the binary (tests/run_all.sh sets it).
"""

import os
import pathlib
import subprocess
import tempfile
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("AUDITGATE_BIN", str(ROOT / "target" / "debug" / "auditgate"))


class Gateway:
    def __init__(self, url, key, data_dir, proc):
        self.url = url
        self.key = key
        self.data_dir = data_dir
        self.proc = proc

    def create_key(self, name, team="default", credit_limit=None):
        args = [BIN, "keys", "create", "--name", name, "--team", team, "--data-dir", self.data_dir]
        if credit_limit is not None:
            args += ["--credit-limit", str(credit_limit)]
        out = subprocess.run(args, check=True, capture_output=True, text=True)
        return out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def gateway():
    tmp = tempfile.mkdtemp(prefix="auditgate-py-")
    data_dir = os.path.join(tmp, "data")
    config = os.path.join(tmp, "gateway.toml")
    with open(config, "w") as f:
        f.write(f'policy_dir = "{ROOT / "policies"}"\ndata_dir = "{data_dir}"\n')
    key = subprocess.run(
        [BIN, "keys", "create", "--name", "sdk-tests", "--team", "qa", "--data-dir", data_dir],
        check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]
    proc = subprocess.Popen(
        [BIN, "serve", "--listen", "127.0.0.1:0", "--config", config],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tmp,
    )
    url_box = []
    ready = threading.Event()

    def read_stdout():
        for line in proc.stdout:
            if line.startswith("auditgate listening on "):
                url_box.append(line.split(" on ", 1)[1].strip())
                ready.set()

    threading.Thread(target=read_stdout, daemon=True).start()
    if not ready.wait(30):
        proc.kill()
        raise RuntimeError("gateway did not start")
    yield Gateway(url_box[0], key, data_dir, proc)
    proc.terminate()
    proc.wait(timeout=20)
