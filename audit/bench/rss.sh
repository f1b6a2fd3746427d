#!/usr/bin/env bash
# Peak RSS of `compliance-connect audit` for windows of N activities.
#
#   ./audit/bench/rss.sh [N ...]        (default: 100000 1000000)
#
# For each N: serves N seeded activities over 7 days from the fake API (its
# own process), backfills them with the real input into an NDJSON file, then
# audits the window against that file and prints the audit's peak RSS
# (GNU time's "Maximum resident set size") and duration.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
fake_pid=""
cleanup() { [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/cc" ./cmd/compliance-connect
port=18777
printf '%-10s %-10s %-12s %-8s %s\n' N expected peak_rss seconds result
for n in "${@:-100000 1000000}"; do
  "$work/cc" fakeapi --addr 127.0.0.1:$port --count "$n" --span 168h --lag 0s --growth 0 --rate-limit 0 >"$work/fake.log" 2>&1 &
  fake_pid=$!
  for _ in $(seq 100); do grep -q http "$work/fake.log" && break; sleep 0.2; done
  rm -rf "$work/state" "$work/out.ndjson"
  cat >"$work/p.yaml" <<YAML
http: { enabled: false }
logger: { level: WARN }
input:
  label: rss
  anthropic_compliance:
    api_key: test-key
    base_url: http://127.0.0.1:$port
    state: { path: $work/state }
    max_slice: 168h
    endpoints:
      - name: activities
        schedule: once
        earliest: -8d
        latest: -1m
        job_timeout: 0
output:
  file: { path: $work/out.ndjson, codec: lines }
YAML
  "$work/cc" run "$work/p.yaml"
  set +e
  /usr/bin/time -v -o "$work/time.txt" "$work/cc" audit -c "$work/p.yaml" --from -8d --to -5m --quiet --temp-dir "$work" --json >"$work/report.json"
  code=$?
  set -e
  rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); printf "%.1f MiB", $2/1024}' "$work/time.txt")
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")
  expected=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["counts"]["expected"])' "$work/report.json")
  printf '%-10s %-10s %-12s %-8s exit %s\n' "$n" "$expected" "$rss" "$secs" "$code"
  kill "$fake_pid"; wait "$fake_pid" 2>/dev/null || true; fake_pid=""
done
