#!/usr/bin/env bash
# Benchmark: read a synthetic 50 MB registry.pol with `certgpo inspect` and with Samba's
# NDR parser (python3-samba, what a Linux admin would otherwise use), in the same run.
# Prints MB/s for both, the ratio, and peak memory (GNU time's maximum resident set).
#
#   bash benches/inspect.sh [SIZE_MB]      (default 50)
#
# Needs: cargo, /usr/bin/python3 with python3-samba, /usr/bin/time (Debian package `time`).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${1:-50}
RUNS=${RUNS:-5}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cargo build --release --quiet
BIN=target/release/certgpo
POL=$WORK/big.pol

# Mixed types, as real GPOs mix them: REG_SZ, REG_EXPAND_SZ, REG_DWORD, REG_QWORD,
# REG_MULTI_SZ, REG_BINARY, key-only entries, **del./**delvals. control codes, and a
# certificate Blob under Root every 500 entries (the real DoD Root CA 3 Blob).
/usr/bin/python3 - "$POL" "$SIZE_MB" tests/data/nsa-cert/derived/Root-D73CA91102A2204A36459ED32213B467D7CE97FB.Blob.bin <<'PY'
import struct, sys
path, size_mb, blob_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
blob = open(blob_path, 'rb').read()
def s(x): return x.encode('utf-16-le') + b'\0\0'
def ent(k, v, t, d):
    return b'[\0' + s(k) + b';\0' + s(v) + b';\0' + struct.pack('<I', t) + b';\0' + struct.pack('<I', len(d)) + b';\0' + d + b']\0'
target = size_mb * 1000 * 1000
out = [b'PReg\x01\x00\x00\x00']
n = total = 0
while total < target:
    k = 'Software\\Policies\\Vendor%04d\\Product\\Setting%06d' % (n // 1000, n)
    kind = n % 10
    if n % 500 == 0:
        e = ent('Software\\Policies\\Microsoft\\SystemCertificates\\Root\\Certificates\\D73CA91102A2204A36459ED32213B467D7CE97FB', 'Blob', 3, blob)
    elif kind == 0: e = ent(k, 'Name%d' % n, 1, s('value number %d' % n))
    elif kind == 1: e = ent(k, 'Path', 2, s('%%SystemRoot%%\\system32\\file%d.dll' % n))
    elif kind == 2: e = ent(k, 'Enabled', 4, struct.pack('<I', n & 1))
    elif kind == 3: e = ent(k, 'Big', 11, struct.pack('<Q', n << 20))
    elif kind == 4: e = ent(k, 'List', 7, 'alpha\0beta\0gamma\0\0'.encode('utf-16-le'))
    elif kind == 5: e = ent(k, 'Bytes', 3, bytes(range(64)))
    elif kind == 6: e = ent(k, '', 0, b'')
    elif kind == 7: e = ent(k, '**del.Old%d' % n, 1, s(' '))
    elif kind == 8: e = ent(k, '**delvals.', 1, s(' '))
    else: e = ent(k, 'Timeout', 4, struct.pack('<I', 120))
    out.append(e); total += len(e); n += 1
open(path, 'wb').write(b''.join(out))
print('entries %d' % n, file=sys.stderr)
PY
BYTES=$(stat -c %s "$POL")
MB=$(awk "BEGIN { printf \"%.1f\", $BYTES / 1e6 }")
echo "file: $MB MB synthetic registry.pol"

SAMBA='import sys, samba.ndr as n, samba.dcerpc.preg as p
f = n.ndr_unpack(p.file, open(sys.argv[1], "rb").read())
print(f.num_entries)'

# Best of RUNS: wall seconds (date, nanoseconds) and peak RSS (KiB, GNU time).
measure() {
    local best="" rss=""
    for _ in $(seq "$RUNS"); do
        local t0 t1
        t0=$(date +%s%N)
        /usr/bin/time -f "%M" -o "$WORK/t" "$@" > /dev/null
        t1=$(date +%s%N)
        read -r kib < "$WORK/t"
        secs=$(awk "BEGIN { printf \"%.3f\", ($t1 - $t0) / 1e9 }")
        if [ -z "$best" ] || awk "BEGIN { exit !($secs < $best) }"; then best=$secs; rss=$kib; fi
    done
    echo "$best $rss"
}

read -r t_ours m_ours < <(measure "$BIN" inspect "$POL")
read -r t_all m_all < <(measure "$BIN" inspect "$POL" --settings --json)
read -r t_samba m_samba < <(measure /usr/bin/python3 -c "$SAMBA" "$POL")

# Samba's parse alone, without the interpreter's start-up and imports (best of RUNS).
t_parse=$(/usr/bin/python3 - "$POL" "$RUNS" <<'PY'
import sys, time, samba.ndr as n, samba.dcerpc.preg as p
data = open(sys.argv[1], "rb").read()
best = min(
    (lambda t0: (n.ndr_unpack(p.file, data), time.perf_counter() - t0)[1])(time.perf_counter())
    for _ in range(int(sys.argv[2]))
)
print("%.2f" % best)
PY
)

rate() { awk "BEGIN { printf \"%.0f\", $BYTES / 1e6 / ($1 > 0 ? $1 : 0.001) }"; }
printf '%-48s %8s %10s %12s\n' "reader" "seconds" "MB/s" "peak RSS MB"
printf '%-48s %8s %10s %12s\n' "certgpo inspect" "$t_ours" "$(rate "$t_ours")" "$((m_ours / 1024))"
printf '%-48s %8s %10s %12s\n' "certgpo inspect --settings --json (every entry)" "$t_all" "$(rate "$t_all")" "$((m_all / 1024))"
printf '%-48s %8s %10s %12s\n' "samba ndr_unpack(preg.file) (python3-samba)" "$t_samba" "$(rate "$t_samba")" "$((m_samba / 1024))"
printf '%-48s %8s %10s %12s\n' "  samba ndr_unpack alone, in-process" "$t_parse" "$(rate "$t_parse")" "-"
awk "BEGIN { printf \"ratio certgpo inspect / samba: %.1fx (process), %.1fx (samba parse alone)\n\", $t_samba / ($t_ours > 0 ? $t_ours : 0.001), $t_parse / ($t_ours > 0 ? $t_ours : 0.001) }"
awk "BEGIN { printf \"ratio certgpo inspect --settings --json / samba: %.1fx\n\", $t_samba / ($t_all > 0 ? $t_all : 0.001) }"
