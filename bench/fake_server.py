"""The loopback fake OpenAI server (tests.fake_openai) in a process of its own, so its threads
do not share a GIL with the load generator. Driven over stdin/stdout, one JSON line each way:

    {"set": {"delay": 2.0, "chunk_delay": 0.0}}  -> {"ok": true}
    {"count": "/models"}                          -> {"count": <requests whose path ends so>}
    {"clear": true}                               -> {"ok": true}   (drops the request log)

The first line it prints is {"base_url": "http://127.0.0.1:<port>/v1"}. It stops when stdin
closes, so it cannot outlive the benchmark that started it."""
import json
import sys

from tests.fake_openai import FakeOpenAI
from tests.fake_openai import server as fake_server_module


def main() -> None:
    # 1,000 streams connect within a second or so: a backlog of 128 would drop SYNs (1 s retries).
    fake_server_module._Server.request_queue_size = 4096
    fake = FakeOpenAI().start()
    print(json.dumps({"base_url": fake.base_url}), flush=True)
    try:
        for line in sys.stdin:
            command = json.loads(line)
            if "set" in command:
                for name, value in command["set"].items():
                    if name not in ("delay", "chunk_delay"):
                        raise ValueError(f"unknown setting {name!r}")
                    setattr(fake, name, float(value))
                answer = {"ok": True}
            elif "count" in command:
                answer = {"count": len(fake.requests_to(command["count"]))}
            elif "clear" in command:
                with fake._lock:
                    fake.requests.clear()
                answer = {"ok": True}
            else:
                answer = {"error": f"unknown command {line.strip()!r}"}
            print(json.dumps(answer), flush=True)
    finally:
        fake.stop()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # the benchmark died (PR_SET_PDEATHSIG): nothing to report
        pass
