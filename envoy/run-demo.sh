#!/usr/bin/env bash
# `make run`: the demo upstream and auth service, then Envoy with the filter, all on loopback.
# Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
ENVOY_BIN=${ENVOY_BIN:-.venv/bin/envoy}
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

python3 envoy/demo/servers.py upstream 8081 & pids+=($!)
python3 envoy/demo/servers.py auth 8082 & pids+=($!)
"$ENVOY_BIN" -c envoy/envoy.yaml --concurrency 1 -l warning --component-log-level wasm:info & pids+=($!)

for _ in $(seq 1 300); do
  curl -fsS http://127.0.0.1:9901/ready >/dev/null 2>&1 && break
  kill -0 "${pids[2]}" 2>/dev/null || { echo "Envoy exited; see its log above" >&2; exit 1; }
  sleep 0.1
done
curl -fsS http://127.0.0.1:9901/ready >/dev/null

cat <<'MSG'

jwt-relay demo is up: Envoy on http://127.0.0.1:10000 (admin :9901), upstream :8081, auth :8082.
The demo upstream echoes what it received, so you can see what the filter passed on.

  # No token: Kong's jwt answer, 401 {"message":"Unauthorized"}
  curl -si http://127.0.0.1:10000/hello

  # A valid HS256 token (iss demo-issuer): X-Consumer-*, the auth service's X-Auth-* headers,
  # and a gateway-signed JWT header with the payloadhash of the body reach the upstream
  TOKEN=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjQxMDI0NDQ4MDAsImlzcyI6ImRlbW8taXNzdWVyIiwic3ViIjoiYWxpY2UifQ.P1Vyrr2NmEBMUkL25dKX5k0PTDc_QhrP9yJ23_RNHjQ
  curl -s -X POST http://127.0.0.1:10000/orders -H "authorization: Bearer $TOKEN" -d '{"id": 7}'

  # The auth service refuses /deny paths: 403 from jwt-reconcile
  curl -si http://127.0.0.1:10000/deny -H "authorization: Bearer $TOKEN"

  # The filter's public keys, to verify the minted JWT header
  curl -s http://127.0.0.1:10000/.well-known/jwks.json

  # Counters
  curl -s http://127.0.0.1:9901/stats | grep jwt_relay

Press Ctrl-C to stop.
MSG
wait "${pids[2]}"
