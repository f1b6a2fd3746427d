#!/bin/sh
# Throughput and memory benchmark of the anthropic_compliance input (see
# `./tests/bench/run.sh -h`). Builds ./cmd/compliance-connect, then measures
# it against the fake API next to a plain Go loop; exits 2 if a claim fails.
set -eu
cd "$(dirname "$0")/../.."
exec go run ./tests/bench "$@"
