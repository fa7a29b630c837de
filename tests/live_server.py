"""The real service as a subprocess: ``gunicorn -c gunicorn.conf.py wsgi:app`` as `make run` starts
it, on a free port (bound here, the socket handed to gunicorn: ASSISTANTS_BIND=fd://N). The
live-server tests and the benchmarks (bench/) both use it.

    with LiveServer(database_url, {"OPENAI_BASE_URL": fake.base_url}, workers=2) as server:
        reply = server.request("POST", "/assistants", {"details": {"model": "gpt-4"}})
        os.kill(server.worker_pids()[0], signal.SIGKILL)

Migrates the database (unless migrate=False) and creates an API key (unless given one) with the
operator commands (flask --app wsgi ...), waits for /health, and on exit kills the whole process
group. Linux only (/proc)."""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistants_app.config import ENVIRONMENT_SETTINGS

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 30.0


@dataclass
class Reply:
    status: int  # 0: no HTTP answer (connection refused, reset or timed out)
    body: Any
    headers: dict
    seconds: float
    error: str | None = None


def parallel(calls: list) -> list:
    """Run the callables at the same instant, one thread each; their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


def rss_mb(pid: int) -> float:
    """Resident set size, from /proc/<pid>/status (VmRSS), in MB (10^6 bytes)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError(f"no VmRSS for {pid}")


def pss_mb(pid: int) -> float:
    """Proportional set size (pages shared with other processes counted in part), in MB."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError(f"no Pss for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def gunicorn_workers(master_pid: int) -> list[int]:
    """A gunicorn master's workers: its live children, from /proc. Not the `worker_exit` helper the
    master spawns when a worker dies (gunicorn.conf.py): a child too, for a second or so."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                command = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
            if (int(fields[1]) == master_pid and fields[0] != "Z"
                    and b"assistants_app.worker_exit" not in command):
                pids.append(int(entry))
    return sorted(pids)


def workers_cpu(master_pid: int) -> float:
    """CPU seconds a gunicorn's workers (and its master) have used so far, together."""
    total = cpu_seconds(master_pid)
    for pid in gunicorn_workers(master_pid):
        try:
            total += cpu_seconds(pid)
        except (FileNotFoundError, ProcessLookupError):
            pass  # a worker that just exited
    return total


# gunicorn, exec'd after prctl(PR_SET_PDEATHSIG, SIGQUIT): it goes down even if pytest is killed.
GUNICORN = [sys.executable, "-c", "import ctypes, os, sys; ctypes.CDLL(None).prctl(1, %d); "
            "os.execv(sys.executable, [sys.executable, '-m', 'gunicorn', *sys.argv[1:]])" % signal.SIGQUIT]


class LiveServer:
    def __init__(self, database_url: str, env: dict | None = None, *, workers: int = 2, log_path=None,
                 migrate: bool = True, api_key: str = "", root: Path = ROOT):
        self.workers, self.root = workers, root  # root: the tree it runs (bench/ab.py runs two commits)
        self.migrate = migrate
        self.log_path = Path(log_path or f"/tmp/live-server-{os.getpid()}-{id(self)}.log")
        # Hermetic: no setting leaks in from the environment pytest runs in.
        base = {k: v for k, v in os.environ.items()
                if k not in ENVIRONMENT_SETTINGS and not k.startswith(("FLASK_", "GUNICORN"))}
        self.env = {**base, "DATABASE_URL": database_url, "WEB_CONCURRENCY": str(workers),
                    "OPENAI_API_KEY": "sk-live-server-test",
                    # Read by coverage (setup.cfg) when make test measures: the workers are gevent's.
                    "COVERAGE_CONCURRENCY": "thread,gevent", **(env or {})}
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.api_key = api_key

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _flask(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=self.root,
                              env=self.env, capture_output=True, text=True, timeout=60)
        if done.returncode:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def start(self) -> "LiveServer":
        if self.migrate:
            self._flask("db", "upgrade")
        if not self.api_key:
            self.api_key = self._flask("api-keys", "create", "--name", "live-server").strip().splitlines()[-1]
        # Bound here and inherited by gunicorn (fd://): the port is never free for another process
        # (another pytest-xdist worker's gunicorn) to take before it is served.
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            self.port = listener.getsockname()[1]
            self.env["ASSISTANTS_BIND"] = f"fd://{listener.fileno()}"
            with open(self.log_path, "ab") as log:
                self.process = subprocess.Popen(
                    # No control socket: its default path is one per user, shared by every gunicorn.
                    [*GUNICORN, "-c", "gunicorn.conf.py", "--no-control-socket", "wsgi:app"],
                    cwd=self.root, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                    pass_fds=[listener.fileno()])
        # This process's copy is closed: once gunicorn is gone, a connection is refused, not queued.
        if self.wait_healthy(START_TIMEOUT):
            return self
        self.stop()
        raise RuntimeError(f"gunicorn did not become healthy:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self._settle()
        # Master and workers are one process group (their own session): a quick shutdown, then
        # SIGKILL for whatever is left of the group.
        for sig in (signal.SIGQUIT, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
                self.process.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        self.process = None

    def _settle(self, timeout: float = 5) -> None:
        """Until every worker serves (one a test killed has been replaced): a worker told to stop while
        it boots can miss it, and the stop would wait 10 s for it."""
        if self.process.poll() is None:
            try:
                self.wait_serving(self.wait_for_workers(timeout), timeout)
            except AssertionError:
                pass  # stopped all the same

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # ------------------------------------------------------------------ processes
    def worker_pids(self) -> list[int]:
        return gunicorn_workers(self.process.pid)

    def wait_for_workers(self, timeout: float = START_TIMEOUT, exclude=()) -> list[int]:
        """Wait until the master runs its full count of workers (none of `exclude`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.worker_pids()
            if len(pids) == self.workers and not set(pids) & set(exclude):
                return pids
            time.sleep(0.02)
        raise AssertionError(f"workers {self.worker_pids()} after {timeout} s\n{self.log_tail()}")

    def wait_serving(self, pids, timeout: float = START_TIMEOUT) -> None:
        """Until each of these workers has answered a request (seen by the connection it accepted)."""
        waiting, deadline = set(pids), time.monotonic() + timeout
        while waiting and time.monotonic() < deadline:
            for pid, connection in self.connections_by_worker().items():
                waiting.discard(pid)
                connection.close()
        assert not waiting, f"workers {waiting} never answered\n{self.log_tail()}"

    def connections_by_worker(self, count: int = 8) -> dict[int, http.client.HTTPConnection]:
        """Open `count` keep-alive connections at once (so several workers accept them): one per
        worker that took one; the others are closed."""
        connections = [self.connection() for _ in range(count)]
        parallel([lambda c=c: self.request("GET", "/health", connection=c) for c in connections])
        by_worker = {}
        for connection in connections:
            pid = self.worker_of(connection)
            if pid is None or pid in by_worker:
                connection.close()
            else:
                by_worker[pid] = connection
        return by_worker

    def wait_healthy(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if self.request("GET", "/health", timeout=2).status == 200:
                return True
            time.sleep(0.05)
        return False

    def worker_of(self, connection: http.client.HTTPConnection) -> int | None:
        """The worker holding the server end of an open keep-alive connection."""
        if connection.sock is None:
            return None
        client_port = connection.sock.getsockname()[1]
        wanted = {f"0100007F:{self.port:04X}", f"0100007F:{client_port:04X}"}
        inode = None
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            parts = line.split()
            if {parts[1], parts[2]} == wanted and parts[1].endswith(f":{self.port:04X}"):
                inode = parts[9]
        for pid in self.worker_pids():
            try:
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                        return pid
            except OSError:
                continue
        return None

    def _per_worker(self, measure) -> list[float]:
        values = []
        for pid in self.worker_pids():
            try:
                values.append(measure(pid))
            except (FileNotFoundError, ProcessLookupError):
                pass  # a worker that just exited
        return values

    def worker_rss_mb(self) -> list[float]:
        return self._per_worker(rss_mb)

    def worker_pss_mb(self) -> list[float]:
        return self._per_worker(pss_mb)

    def workers_cpu(self) -> float:
        return workers_cpu(self.process.pid)

    # ------------------------------------------------------------------ HTTP
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connection(self, timeout: float = 30) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method: str, path: str, body: Any = None, headers: dict | None = None, *,
                timeout: float = 30, connection: http.client.HTTPConnection | None = None) -> Reply:
        """One request (a new connection unless one is given); never raises for network errors."""
        all_headers = {"Authorization": f"Bearer {self.api_key}", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        conn = connection or self.connection(timeout)
        started = time.monotonic()
        try:
            conn.request(method, path, body=data, headers=all_headers)
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as err:
            conn.close()
            return Reply(0, None, {}, time.monotonic() - started, repr(err))
        finally:
            if connection is None:
                conn.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return Reply(response.status, parsed, dict(response.headers), time.monotonic() - started)
