"""Benchmarks of the gateway (not tests): `make bench`, or `python -m bench --help`.

The fake provider and the service under gunicorn run in processes of their own; the load
comes from this process (bench/loadgen.py). bench/README.md explains every figure."""
