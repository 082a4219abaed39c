"""What the Python client's scripts share: service addresses, bearer tokens minted by homewardctl,
channels that send the token on every call, and steps that fail loudly with the server's reason.

Tokens are minted by `homewardctl token mint --dev`, so the signing rules live in one place (the
Rust kit) and this client never holds a key. Nothing here prints personal data: errors show the
gRPC code, the message and the ErrorInfo reason the service gave.
"""

from __future__ import annotations

import collections
import contextlib
import os
import pathlib
import shutil
import subprocess
import sys
import uuid

import grpc

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BUILD = HERE / "build"

# The all-in-one server's default ports (`make run`); the variables are the ones homewardctl reads.
DEFAULT_ADDRESSES = {
    "registry": ("HOMEWARD_REGISTRY_URL", "127.0.0.1:50051"),
    "exchange": ("HOMEWARD_EXCHANGE_URL", "127.0.0.1:50052"),
    "notification": ("HOMEWARD_NOTIFICATION_URL", "127.0.0.1:50053"),
}


class Failed(Exception):
    """A step whose answer was not what the scenario expects."""


def check(condition: bool, what: str) -> None:
    if not condition:
        raise Failed(what)


def rid() -> str:
    """A fresh request id: every mutation carries one, so a retried call is answered once."""
    return str(uuid.uuid4())


def target(address: str) -> str:
    """host:port from either form homewardctl accepts (with or without http://)."""
    for scheme in ("http://", "https://"):
        if address.startswith(scheme):
            address = address[len(scheme) :]
    return address.rstrip("/")


def address(service: str, given: str | None) -> str:
    variable, default = DEFAULT_ADDRESSES[service]
    return target(given or os.environ.get(variable) or default)


def use_stubs() -> None:
    """Puts the generated stubs (generate.sh) on the import path."""
    if not (BUILD / "homeward").is_dir():
        raise SystemExit(f"no generated stubs in {BUILD}: run clients/python/generate.sh first")
    sys.path.insert(0, str(BUILD))


def homewardctl(given: str | None) -> str:
    """The homewardctl binary: given, $HOMEWARDCTL, the build in the target folder, or PATH."""
    candidates = [given, os.environ.get("HOMEWARDCTL")]
    target_dir = pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    if not target_dir.is_absolute():
        target_dir = ROOT / target_dir
    candidates.append(str(target_dir / "debug" / "homewardctl"))
    candidates.append(shutil.which("homewardctl"))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise SystemExit(
        "homewardctl not found: pass --homewardctl, set HOMEWARDCTL, or "
        "`cargo build -p homewardctl`"
    )


def mint(ctl: str, subject: str, roles: list[str], party: str = "UA", ttl: str = "1h") -> str:
    """A development token (the services must run with HOMEWARD_AUTH__DEV_MODE=true)."""
    args = [ctl, "token", "mint", "--dev", "--subject", subject, "--party", party, "--ttl", ttl]
    for role in roles:
        args += ["--role", role]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        raise Failed(f"homewardctl token mint ({subject}) failed: {done.stderr.strip()}")
    return done.stdout.strip()


class _CallDetails(
    collections.namedtuple(
        "_CallDetails",
        ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"),
    ),
    grpc.ClientCallDetails,
):
    pass


class _Bearer(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds `authorization: Bearer <token>` and a default deadline to every call."""

    def __init__(self, token: str, timeout: float):
        self._header = ("authorization", f"Bearer {token}")
        self._timeout = timeout

    def _details(self, d):
        metadata = list(d.metadata or []) + [self._header]
        timeout = d.timeout if d.timeout is not None else self._timeout
        return _CallDetails(
            d.method, timeout, metadata, d.credentials, d.wait_for_ready, d.compression
        )

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)


def channel(addr: str, token: str | None = None, timeout: float = 20.0) -> grpc.Channel:
    """An insecure channel (the dev server speaks plaintext), with the token when given."""
    plain = grpc.insecure_channel(addr)
    if token is None:
        return plain
    return grpc.intercept_channel(plain, _Bearer(token, timeout))


def describe(error: grpc.RpcError) -> str:
    """Code, message and the ErrorInfo reason / BadRequest fields the services attach."""
    text = f"{error.code().name}: {error.details()}"
    try:
        from google.rpc import error_details_pb2
        from grpc_status import rpc_status

        status = rpc_status.from_call(error)
    except Exception:  # a status without rich details, or one that does not decode
        status = None
    if status is not None:
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            bad = error_details_pb2.BadRequest()
            if detail.Unpack(info):
                text += f" [reason {info.reason}, domain {info.domain}]"
            elif detail.Unpack(bad):
                fields = ", ".join(f"{v.field}: {v.description}" for v in bad.field_violations)
                text += f" [bad request: {fields}]"
    return text


@contextlib.contextmanager
def step(name: str):
    """Labels what is being done, so a failure says which step of the scenario broke."""
    try:
        yield
    except grpc.RpcError as error:
        raise Failed(f"{name}: {describe(error)}") from None
    except Failed as failure:
        raise Failed(f"{name}: {failure}") from None


def main(run) -> None:
    """Runs `run()`, turning a failed step into a message and exit status 1."""
    try:
        run()
    except Failed as failure:
        print(f"FAILED {failure}", file=sys.stderr)
        sys.exit(1)
