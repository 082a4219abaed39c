#!/usr/bin/env bash
# Generates Python stubs for every Homeward contract (proto/homeward/**/*.proto) into
# clients/python/build. The google.protobuf well-known types they import come with grpcio-tools,
# whose protoc is used, so no system protoc is needed. PYTHON names the interpreter that has
# requirements.txt installed (default: python3).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
python=${PYTHON:-python3}
# A relative path must survive the cd below (keep the symlink: a venv's python is one).
if [[ $python == */* ]]; then python=$(cd "$(dirname "$python")" && pwd)/$(basename "$python"); fi
out=$here/build

wkt=$("$python" -c \
  'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')
mapfile -t protos < <(cd "$root/proto" && find homeward -name '*.proto' | LC_ALL=C sort)
if [[ ${#protos[@]} -eq 0 ]]; then
  echo "generate.sh: no .proto files under $root/proto/homeward" >&2
  exit 1
fi

# Generate beside the old stubs and swap, so a failed run never leaves half a package.
fresh=$(mktemp -d "$here/.build.XXXXXX")
trap 'rm -rf "$fresh"' EXIT
(cd "$root/proto" && "$python" -m grpc_tools.protoc -I . -I "$wkt" \
  --python_out="$fresh" --pyi_out="$fresh" --grpc_python_out="$fresh" "${protos[@]}")
rm -rf "$out"
mv "$fresh" "$out"
trap - EXIT
