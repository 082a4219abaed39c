#!/usr/bin/env python3
"""Waits for a `homeward` started on port 0 with JSON logs: reads the addresses it announces
("homeward running in one process") from its log, then asks grpc.health.v1 on each port until
the server and its service report SERVING. Prints `registry=HOST:PORT` and the like, one a line.
Fails as soon as the process is gone, or when --timeout runs out.

    wait_ready.py --log FILE --pid PID [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

SERVICES = {
    "registry": "homeward.registry.v1.RegistryService",
    "exchange": "homeward.exchange.v1.ExchangeService",
    "notification": "homeward.notification.v1.NotificationService",
}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A child that exited but was not reaped yet (the calling shell waits later) is a zombie.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return True


def announced(log: str) -> dict[str, str] | None:
    try:
        with open(log, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if not line.startswith("{"):
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                fields = record.get("fields", record)
                if fields.get("message") == "homeward running in one process":
                    return {name: fields[name] for name in SERVICES}
    except FileNotFoundError:
        pass
    return None


def serving(addr: str, service: str) -> bool:
    with grpc.insecure_channel(addr) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            for name in ("", service):
                answer = stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=2)
                if answer.status != health_pb2.HealthCheckResponse.SERVING:
                    return False
        except grpc.RpcError:
            return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", required=True)
    parser.add_argument("--pid", required=True, type=int)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    addresses = None
    pending = dict(SERVICES)
    while time.monotonic() < deadline:
        if not alive(args.pid):
            print("homeward exited before it was ready", file=sys.stderr)
            return 1
        if addresses is None:
            addresses = announced(args.log)
        if addresses is not None:
            for name in list(pending):
                if serving(addresses[name], pending[name]):
                    del pending[name]
            if not pending:
                for name, addr in addresses.items():
                    print(f"{name}={addr}")
                return 0
        time.sleep(0.1)
    what = "announced no addresses" if addresses is None else f"not SERVING: {', '.join(pending)}"
    print(f"homeward not ready after {args.timeout:.0f} s: {what}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
