#!/usr/bin/env bash
# Peak memory of `certgpo inspect` on the largest inputs certgpo supports (issue 9): a
# bundle of N certificates (10,000 by default: its .reg file is then just under the 64 MiB
# limit of a .reg, see src/input.rs and README.md "Input limits"), as a folder, as a zip
# and file by file, and a PEM file of PEM_N certificates (15,000: just under the 16 MiB
# limit of a certificate file). Side by side, in the same run, with what an admin would
# otherwise run on the same file: GNU time (`/usr/bin/time -v`), "Maximum resident set
# size" and "Elapsed (wall clock) time".
#
#   bash benches/limits.sh          # N=10000 PEM_N=15000
#
# The registry.pol at its own 64 MiB limit (mixed settings rather than certificates) is
# benches/inspect.sh's input: `bash benches/inspect.sh 66`.
#
# Needs: cargo, /usr/bin/time (Debian package `time`), openssl, xmllint, unzip,
# python3-samba; python3-cryptography makes generating the certificates fast.
set -euo pipefail
cd "$(dirname "$0")/.."
case $PWD in *[[:space:]]*) echo "benches/limits.sh: run it from a path without spaces" >&2; exit 2 ;; esac

N=${N:-10000}
PEM_N=${PEM_N:-15000}
CACHE=target/bench/certs-$PEM_N
mkdir -p target/bench
WORK=$(mktemp -d -p "$PWD/target/bench" limits.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

cargo build --release --quiet
BIN=$PWD/target/release/certgpo
bash benches/certs.sh "$PEM_N" "$CACHE"

# --- inputs -----------------------------------------------------------------------------
mkdir "$WORK/certs"
find "$PWD/$CACHE" -name '*.pem' | sort | awk -v n="$N" 'NR <= n' | while read -r f; do ln -s "$f" "$WORK/certs/"; done
"$BIN" build --cert "$WORK/certs" --domain contoso.local --timestamp 2025-01-01T00:00:00Z \
    --out "$WORK/bundle" --zip "$WORK/bundle.zip" > /dev/null 2> "$WORK/build.err"
find "$PWD/$CACHE" -name '*.pem' | sort | xargs cat > "$WORK/all.pem"
B=$WORK/bundle
GPO=$(find "$B/gpo-backup" -mindepth 1 -maxdepth 1 -type d)

SAMBA='import sys, samba.ndr as n, samba.dcerpc.preg as p
print(n.ndr_unpack(p.file, open(sys.argv[1], "rb").read()).num_entries)'

# --- measure ----------------------------------------------------------------------------
# One run each: "peak-MiB seconds" of the command (its output thrown away).
measure() {
    /usr/bin/time -v -o "$WORK/t" "$@" > /dev/null 2> "$WORK/err" || {
        echo "failed: $*" >&2; cat "$WORK/err" >&2; exit 1; }
    awk -F': ' '
        /Maximum resident set size/ { rss = $2 }
        /Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i] }
        END { printf "%.1f %.2f\n", rss / 1024, s }' "$WORK/t"
}

size_mb() { awk "BEGIN { printf \"%.1f\", $(du -sb "$1" | cut -f1) / 1e6 }"; }

printf '%-44s %9s | %10s %7s | %-38s %10s %7s\n' "input" "size MB" "certgpo MiB" "s" "otherwise" "MiB" "s"
row() {  # label, path, other-label, other command... (other-label "-" for none)
    local label=$1 path=$2 other=$3; shift 3
    read -r m t < <(measure "$BIN" inspect "$path")
    if [ "$other" = - ]; then
        printf '%-44s %9s | %10s %7s | %-38s %10s %7s\n' "$label" "$(size_mb "$path")" "$m" "$t" "(none on Linux)" - -
    else
        read -r om ot < <(measure "$@")
        printf '%-44s %9s | %10s %7s | %-38s %10s %7s\n' "$label" "$(size_mb "$path")" "$m" "$t" "$other" "$om" "$ot"
    fi
}

row "PEM, $PEM_N certificates" "$WORK/all.pem" \
    "openssl storeutl -certs" openssl storeutl -noout -certs "$WORK/all.pem"
row "certificates.p7b, $N certificates" "$B/certs/certificates.p7b" \
    "openssl pkcs7 -print_certs" openssl pkcs7 -inform DER -print_certs -noout -in "$B/certs/certificates.p7b"
row "registry.pol, $N certificates" "$GPO/DomainSysvol/GPO/Machine/registry.pol" \
    "samba ndr_unpack(preg.file)" /usr/bin/python3 -c "$SAMBA" "$GPO/DomainSysvol/GPO/Machine/registry.pol"
row "trust-machine-store.reg, $N certificates" "$B/reg/trust-machine-store.reg" -
row "gpreport.xml, $N certificates" "$GPO/gpreport.xml" \
    "xmllint --noout" xmllint --noout "$GPO/gpreport.xml"
row "bundle folder, $N certificates" "$B" -
row "bundle zip, $N certificates" "$WORK/bundle.zip" \
    "unzip -t" unzip -tq "$WORK/bundle.zip"
