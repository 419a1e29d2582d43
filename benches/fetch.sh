#!/usr/bin/env bash
# Benchmark `certgpo fetch` against what an admin would run instead: a shell loop of
# `openssl s_client`, in the same run, against the same 4 `openssl s_server` instances
# on loopback (RSA-2048 self-signed certificate, OpenSSL defaults).
#
#   benches/fetch.sh [CERTGPO_BINARY]        (default: target/release/certgpo)
#   N=4000 CONCURRENCY=64 LOOP_N=400 benches/fetch.sh
#
# certgpo fetches N certificates (N target arguments in a --targets-file, spread over
# the 4 servers) at --concurrency CONCURRENCY. The openssl loop runs LOOP_N times (one
# process per certificate, so its rate does not depend on N; 400 keeps the run short).
# Client CPU and peak RSS come from /usr/bin/time -v. Everything stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-target/release/certgpo}
N=${N:-4000}
CONCURRENCY=${CONCURRENCY:-64}
LOOP_N=${LOOP_N:-400}
[ -x "$BIN" ] || { echo "build first: cargo build --release (or pass the binary)" >&2; exit 2; }
command -v openssl >/dev/null && [ -x /usr/bin/time ] || { echo "needs openssl and /usr/bin/time" >&2; exit 2; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 30 \
  -subj "/CN=exch2010.contoso.local" -addext "subjectAltName=DNS:exch2010.contoso.local" 2>/dev/null
expected=$(openssl x509 -in "$work/cert.pem" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')

ports=()
for _ in 1 2 3 4; do
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # timeout bounds the servers' life even if this script is killed.
  timeout 600 openssl s_server -quiet -accept "127.0.0.1:$port" -cert "$work/cert.pem" -key "$work/key.pem" \
    >/dev/null 2>&1 &
  pids+=($!)
  ports+=("$port")
done
for port in "${ports[@]}"; do
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
done

for i in $(seq 0 $((N - 1))); do echo "127.0.0.1:${ports[$((i % 4))]}"; done > "$work/targets.txt"

# certgpo
/usr/bin/time -v -o "$work/certgpo.time" \
  "$BIN" fetch --targets-file "$work/targets.txt" --concurrency "$CONCURRENCY" --json > "$work/out.json"
got=$(grep -c "\"sha1\": \"$expected\"" "$work/out.json" || true)
[ "$got" = "$N" ] || { echo "certgpo captured $got of $N certificates" >&2; exit 1; }

# openssl s_client loop: one process per certificate, as an admin's script would run it
/usr/bin/time -v -o "$work/openssl.time" bash -c '
  ports=('"${ports[*]}"')
  for i in $(seq 0 $(('"$LOOP_N"' - 1))); do
    echo | openssl s_client -connect "127.0.0.1:${ports[$((i % 4))]}" 2>/dev/null
  done' > "$work/openssl.out"
ok=$(grep -c "BEGIN CERTIFICATE" "$work/openssl.out" || true)
[ "$ok" = "$LOOP_N" ] || { echo "openssl loop captured $ok of $LOOP_N" >&2; exit 1; }
first=$(openssl x509 -in "$work/openssl.out" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
[ "$first" = "$expected" ] || { echo "openssl loop saw $first, expected $expected" >&2; exit 1; }

field() { grep "$2" "$1" | sed 's/.*: //'; }
wall() { # h:mm:ss or m:ss.xx -> seconds
  echo "$1" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }'
}
report() { # name file count
  local w u s rss
  w=$(wall "$(field "$2" 'Elapsed (wall clock)')")
  u=$(field "$2" 'User time'); s=$(field "$2" 'System time'); rss=$(field "$2" 'Maximum resident')
  awk -v n="$1" -v c="$3" -v w="$w" -v u="$u" -v s="$s" -v r="$rss" 'BEGIN {
    printf "%-22s %6d certs in %7.2f s = %8.1f certs/s; client CPU %.3f ms/cert (user %.2f s, sys %.2f s); peak RSS %.1f MiB\n",
      n, c, w, c / w, (u + s) * 1000 / c, u, s, r / 1024 }'
}
echo "machine: $(nproc) CPUs, $(openssl version), $("$BIN" --version)"
report "certgpo fetch -c $CONCURRENCY" "$work/certgpo.time" "$N"
report "openssl s_client loop" "$work/openssl.time" "$LOOP_N"
cw=$(wall "$(field "$work/certgpo.time" 'Elapsed (wall clock)')")
ow=$(wall "$(field "$work/openssl.time" 'Elapsed (wall clock)')")
awk -v n="$N" -v cw="$cw" -v l="$LOOP_N" -v ow="$ow" 'BEGIN { printf "ratio: certgpo is %.0fx the openssl loop (certs/s)\n", (n / cw) / (l / ow) }'
