"""The two processes a benchmark run starts -- the fake provider and the service under
gunicorn exactly as `make run` starts it -- and their clean-up, on success or failure."""
from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from cryptography.fernet import Fernet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.dirname(sys.executable)
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident set size, from /proc/<pid>/status (VmRSS), in MB (10^6 bytes)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _die_with_parent() -> None:
    """In the child: get SIGINT (gunicorn's quick shutdown) when the benchmark dies, even by SIGKILL."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _stop(process: subprocess.Popen, sig: int, grace: float) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)  # its own session: the group is exactly it and its children
        process.wait(grace)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(5)


class FakeProvider:
    """bench/fake_server.py in its own process."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.fake_server"], cwd=ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=_die_with_parent)
        self.base_url = self._read()["base_url"]

    def _read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the fake provider exited")
        return json.loads(line)

    def _ask(self, command: dict) -> dict:
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._read()

    def configure(self, delay: float = 0.0, chunk_delay: float = 0.0) -> None:
        self._ask({"set": {"delay": delay, "chunk_delay": chunk_delay}})

    def count(self, path_suffix: str) -> int:
        return self._ask({"count": path_suffix})["count"]

    def clear(self) -> None:
        self._ask({"clear": True})

    def stop(self) -> None:
        if self.process.stdin and not self.process.stdin.closed:
            try:
                self.process.stdin.close()  # the server stops at end of input
            except BrokenPipeError:
                pass
        _stop(self.process, signal.SIGTERM, 5)


class Service:
    """The app under `gunicorn -c gunicorn.conf.py wsgi:app`, on a database of its own."""

    def __init__(self, database_url: str, provider_url: str, workdir: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(workdir, "gunicorn.log")
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "OPENAI_BASE_URL": provider_url,
            "OPENAI_API_KEY": "sk-bench",
            "ASSISTANTS_SECRET_KEYS": Fernet.generate_key().decode(),
            "ASSISTANTS_BIND": f"127.0.0.1:{self.port}",
            # The limiter stays on (its cost is measured) but the load must not run into it.
            "RATELIMIT_DEFAULT": "1000000000 per minute",
            # The status benchmark stores credentials on the loopback fake.
            "PROVIDER_ALLOWED_HOSTS": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
        }
        for name in ("REDIS_URL", "FLASK_APP"):  # measure the default single-host setup
            self.env.pop(name, None)
        self.process: subprocess.Popen | None = None
        self.key = ""

    def _flask(self, *args: str) -> str:
        result = subprocess.run([os.path.join(VENV_BIN, "flask"), "--app", "wsgi", *args], cwd=ROOT,
                                env=self.env, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def start(self, boot_timeout: float = 60.0) -> None:
        self._flask("db", "upgrade")
        self.key = self._flask("api-keys", "create", "--name", "bench").strip().splitlines()[-1]
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [os.path.join(VENV_BIN, "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
            env=self.env, stdout=log, stderr=log, start_new_session=True, preexec_fn=_die_with_parent)
        log.close()
        end = time.monotonic() + boot_timeout
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.log_path}")
            expected = int(self.env.get("WEB_CONCURRENCY") or os.cpu_count() or 1)
            if self._healthy() and len(self.worker_pids()) >= expected:
                time.sleep(1.0)  # let every worker finish importing the app
                return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer /health within {boot_timeout:g} s; see {self.log_path}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def worker_pids(self) -> list[int]:
        """gunicorn's children (its workers): every process whose parent is the master."""
        if self.process is None:
            return []
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        parent = int(f.read().rsplit(")", 1)[1].split()[1])
                except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                    continue
                if parent == self.process.pid:
                    pids.append(int(entry))
        return sorted(pids)

    def worker_rss_mb(self) -> list[float]:
        sizes = []
        for pid in self.worker_pids():
            try:
                sizes.append(rss_mb(pid))
            except (FileNotFoundError, ProcessLookupError):
                pass
        return sizes

    def workers_cpu(self) -> float:
        """CPU seconds the workers have used so far, together."""
        total = 0.0
        for pid in self.worker_pids():
            try:
                total += cpu_seconds(pid)
            except (FileNotFoundError, ProcessLookupError):
                pass
        return total

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process, signal.SIGINT, 15)  # SIGINT: gunicorn's quick shutdown
