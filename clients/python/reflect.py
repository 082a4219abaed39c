#!/usr/bin/env python3
"""Homeward through server reflection alone, as grpcurl uses it: no generated stubs, no .proto
files. For each service port: list the services (grpc.reflection.v1 and v1alpha must agree) and
ask grpc.health.v1 whether each is SERVING, with the health messages built from reflected
descriptors. Then fetch the registry's descriptors, build SearchPersons, ListPersons and
GetPerson requests from JSON, send them as generic unary calls, and check that every answer
decodes into the reflected response type with nothing left unknown.

    reflect.py [--registry HOST:PORT] [--exchange HOST:PORT] [--notification HOST:PORT]
               [--homewardctl PATH]

Prints a short summary; exit status 1 on any failed check. Prints ids and counts, never names.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

import grpc
from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    json_format,
    message_factory,
    unknown_fields,
)
from grpc_reflection.v1alpha import reflection_pb2 as rpb

import hwclient
from hwclient import Failed, check, step

# The two versions of the reflection protocol have the same messages under different package
# names, so the v1alpha classes encode and decode both.
REFLECTION = {
    "v1": "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "v1alpha": "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
}
HEALTH = "grpc.health.v1.Health"
REGISTRY = "homeward.registry.v1.RegistryService"
EXPECTED = {
    "registry": REGISTRY,
    "exchange": "homeward.exchange.v1.ExchangeService",
    "notification": "homeward.notification.v1.NotificationService",
}


class Reflection:
    """A reflection client on one channel, filling a descriptor pool on demand."""

    def __init__(self, channel: grpc.Channel, version: str = "v1"):
        self.channel = channel
        self.version = version
        self.pool = descriptor_pool.DescriptorPool()
        self.fetched: dict[str, descriptor_pb2.FileDescriptorProto] = {}
        self.added: set[str] = set()

    def ask(self, version: str | None = None, **what) -> rpb.ServerReflectionResponse:
        call = self.channel.stream_stream(
            REFLECTION[version or self.version],
            request_serializer=rpb.ServerReflectionRequest.SerializeToString,
            response_deserializer=rpb.ServerReflectionResponse.FromString,
        )
        answers = list(call(iter([rpb.ServerReflectionRequest(**what)]), timeout=10))
        check(len(answers) == 1, f"{len(answers)} reflection answers to one question")
        answer = answers[0]
        if answer.HasField("error_response"):
            error = answer.error_response
            raise Failed(f"reflection refused {what}: {error.error_code} {error.error_message}")
        return answer

    def services(self, version: str) -> set[str]:
        answer = self.ask(version, list_services="")
        return {s.name for s in answer.list_services_response.service}

    def _take(self, answer: rpb.ServerReflectionResponse) -> None:
        for raw in answer.file_descriptor_response.file_descriptor_proto:
            proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
            self.fetched.setdefault(proto.name, proto)

    def _add(self, name: str) -> None:
        """Adds a file to the pool after its imports, asking the server for any it lacks."""
        if name in self.added:
            return
        if name not in self.fetched:
            self._take(self.ask(file_by_filename=name))
            check(name in self.fetched, f"the server did not send {name}")
        for dependency in self.fetched[name].dependency:
            self._add(dependency)
        self.pool.Add(self.fetched[name])
        self.added.add(name)

    def load(self, symbol: str):
        """The service descriptor of `symbol`, with everything it uses."""
        answer = self.ask(file_containing_symbol=symbol)
        self._take(answer)
        first = descriptor_pb2.FileDescriptorProto.FromString(
            answer.file_descriptor_response.file_descriptor_proto[0]
        )
        self._add(first.name)
        return self.pool.FindServiceByName(symbol)


def unary(channel: grpc.Channel, service, method: str, request_json: str, token: str | None):
    """A generic unary call: request from JSON, raw bytes back, decoded by the reflected type."""
    m = service.methods_by_name[method]
    request_class = message_factory.GetMessageClass(m.input_type)
    response_class = message_factory.GetMessageClass(m.output_type)
    request = json_format.Parse(request_json, request_class())
    call = channel.unary_unary(
        f"/{service.full_name}/{m.name}",
        request_serializer=lambda message: message.SerializeToString(),
        response_deserializer=None,  # raw bytes: decoding is what is being checked
    )
    metadata = [("authorization", f"Bearer {token}")] if token else None
    raw = call(request, timeout=10, metadata=metadata)
    response = response_class.FromString(raw)
    check(
        len(unknown_fields.UnknownFieldSet(response)) == 0,
        f"{method}: the answer has fields the reflected descriptor does not know",
    )
    check(response.ByteSize() == len(raw), f"{method}: the answer does not re-encode to its size")
    json_format.MessageToDict(response)  # every nested type and enum resolves
    return response


def health(channel: grpc.Channel, reflection: Reflection, names: list[str]) -> None:
    service = reflection.load(HEALTH)
    serving = (
        service.methods_by_name["Check"]
        .output_type.fields_by_name["status"]
        .enum_type.values_by_name["SERVING"]
        .number
    )
    for name in names:
        answer = unary(
            channel,
            service,
            "Check",
            json_format.MessageToJson(
                message_factory.GetMessageClass(service.methods_by_name["Check"].input_type)(
                    service=name
                )
            ),
            token=None,
        )
        check(answer.status == serving, f"health of {name or 'the server'}: status {answer.status}")


def probe_port(label: str, addr: str) -> None:
    """Both reflection versions list exactly what the port serves: its own service, health and
    reflection; health says SERVING for the server and for the port's own service."""
    channel = hwclient.channel(addr)
    with step(f"{label}: list services through reflection"):
        reflection = Reflection(channel)
        v1 = reflection.services("v1")
        v1alpha = reflection.services("v1alpha")
        served = {
            EXPECTED[label],
            HEALTH,
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        }
        check(v1 == served, f"v1 lists {sorted(v1)}, expected {sorted(served)}")
        check(v1alpha == served, f"v1alpha lists {sorted(v1alpha)}, expected {sorted(served)}")
    with step(f"{label}: grpc.health.v1 Check"):
        health(channel, reflection, ["", EXPECTED[label]])
    channel.close()


def registry_calls(addr: str, token: str) -> str:
    """Registry calls with messages built from reflected descriptors alone."""
    channel = hwclient.channel(addr)
    reflection = Reflection(channel)
    with step("registry: describe RegistryService through reflection"):
        service = reflection.load(REGISTRY)
        for method in ("ListPersons", "GetPerson", "SearchPersons"):
            check(method in service.methods_by_name, f"{method} is not described")
    with step("registry: ListPersons from JSON"):
        listed = unary(channel, service, "ListPersons", json.dumps({"pageSize": 5}), token)
        check(len(listed.persons) > 0, "nobody listed, though the scenario registered people")
    person = listed.persons[0]
    with step("registry: GetPerson from JSON"):
        got = unary(channel, service, "GetPerson", json.dumps({"id": person.id}), token)
        check(got.person.id == person.id, "GetPerson answered with another person")
    with step("registry: SearchPersons from JSON"):
        name = person.names[0]
        query = f"{name.family} {name.given}".strip()
        found = unary(
            channel, service, "SearchPersons", json.dumps({"query": query, "maxResults": 5}), token
        )
        check(
            any(r.person.id == person.id for r in found.results),
            "the person is not found by their own name",
        )
    with step("registry: refusals through a generic call"):
        try:
            unary(channel, service, "GetPerson", json.dumps({"id": person.id}), None)
            raise Failed("a call without a token was answered")
        except grpc.RpcError as error:
            check(error.code() == grpc.StatusCode.UNAUTHENTICATED, f"no token: {error.code()}")
        try:
            unary(channel, service, "GetPerson", json.dumps({"id": str(uuid.uuid4())}), token)
            raise Failed("an unknown id was answered")
        except grpc.RpcError as error:
            check(error.code() == grpc.StatusCode.NOT_FOUND, f"unknown id: {error.code()}")
    channel.close()
    return (
        f"registry through reflection alone: {len(reflection.added)} descriptor files; "
        "ListPersons, GetPerson and SearchPersons built from JSON and decoded; no token is "
        "UNAUTHENTICATED, an unknown id NOT_FOUND"
    )


def run(args) -> None:
    started = time.monotonic()
    addresses = {label: hwclient.address(label, getattr(args, label)) for label in EXPECTED}
    for label, addr in addresses.items():
        probe_port(label, addr)
    with step("mint a token with homewardctl"):
        token = hwclient.mint(hwclient.homewardctl(args.homewardctl), "py-reflect", ["registrar"])
    line = registry_calls(addresses["registry"], token)
    print(f"python reflection passed in {time.monotonic() - started:.1f} s:")
    print(
        "  - 3 ports: v1 and v1alpha reflection list exactly what each serves; health SERVING"
    )
    print(f"  - {line}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", help="host:port of the registry")
    parser.add_argument("--exchange", help="host:port of the exchange service")
    parser.add_argument("--notification", help="host:port of the notification service")
    parser.add_argument("--homewardctl", help="path of homewardctl, to mint a dev token")
    arguments = parser.parse_args()
    hwclient.main(lambda: run(arguments))
