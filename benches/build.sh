#!/usr/bin/env bash
# Benchmark one `certgpo build` process (release build) for 1 certificate and for 1,000
# certificates, side by side with one `openssl x509 -noout -fingerprint` process, in the
# same run on the same machine: wall time and CPU time (hyperfine when installed, else a
# timed loop) and peak memory (/usr/bin/time -v, "Maximum resident set size").
#
# Goals (issue 2): a whole bundle for one certificate costs no more than three openssl
# calls; 1,000 certificates take under a second.
#
#   benches/build.sh        # RUNS=30 by default; RUNS=100 for more; NO_HYPERFINE=1 to use the loop
#
# Bundles are written under target/bench/ (the project's disk). When /dev/shm is a tmpfs,
# the 1,000-certificate build is also measured there: a 1,000-certificate bundle is 2,000+
# files, and creating them can cost the file system more than certgpo spends computing.
# The 1,000 distinct self-signed certificates (RSA 2048, one shared key, different
# subjects and serials) are generated once and cached in target/bench/certs-1000/.
set -euo pipefail
cd "$(dirname "$0")/.."
case $PWD in *[[:space:]]*) echo "benches/build.sh: run it from a path without spaces" >&2; exit 2 ;; esac

RUNS=${RUNS:-30}
N=1000
CERT1=examples/exch2010-selfsigned.cer
CACHE=target/bench/certs-$N
mkdir -p target/bench
WORK=$(mktemp -d -p "$PWD/target/bench" work.XXXXXX)
SHM=
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then SHM=$(mktemp -d -p /dev/shm certgpo-bench.XXXXXX); fi
trap 'rm -rf "$WORK" ${SHM:+"$SHM"}' EXIT

cargo build --release --quiet
BIN=$PWD/target/release/certgpo

# --- inputs -----------------------------------------------------------------------------
bash benches/certs.sh "$N" "$CACHE"

# Before each run the previous bundle is moved aside, not deleted: on a journal-less ext4
# (this project's VMs) creating files right after deleting thousands makes the kernel scan
# for "recently deleted" inodes, and a delete-and-rebuild loop then measures that scan
# more than certgpo. The moved-aside bundles are deleted at exit.
ASIDE=$WORK/aside.sh
cat > "$ASIDE" <<'SH'
#!/bin/sh
[ -e "$1" ] || exit 0
mkdir -p "$1.old" && exec mv "$1" "$(mktemp -d -p "$1.old")/"
SH
chmod +x "$ASIDE"

# --- what is measured (names without commas: they end up in a CSV) ---------------------------
# name | output directory (moved aside before each run) | command
NAMES=("openssl x509 -noout -fingerprint" "certgpo build (1 certificate)" "certgpo build ($N certificates)")
OUTS=("" "$WORK/out1" "$WORK/outN")
CMDS=("openssl x509 -noout -fingerprint -inform DER -in $CERT1"
      "$BIN build --cert $CERT1 --out $WORK/out1"
      "$BIN build --cert $CACHE --domain contoso.local --out $WORK/outN")
if [ -n "$SHM" ]; then
    NAMES+=("certgpo build ($N certificates; tmpfs)")
    OUTS+=("$SHM/outN")
    CMDS+=("$BIN build --cert $CACHE --domain contoso.local --out $SHM/outN")
fi

# --- wall and CPU time ------------------------------------------------------------------------
declare -A WALL SD CPU
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
if [ -z "${NO_HYPERFINE:-}" ] && command -v hyperfine >/dev/null; then
    args=(-N --warmup 3 --runs "$RUNS" --export-csv "$WORK/times.csv")
    # --prepare and --command-name apply to the commands in the order given.
    for i in "${!NAMES[@]}"; do
        if [ -n "${OUTS[$i]}" ]; then args+=(--prepare "$ASIDE ${OUTS[$i]}"); else args+=(--prepare true); fi
    done
    for name in "${NAMES[@]}"; do args+=(--command-name "$name"); done
    # -N: no intermediate shell, so a few-millisecond process is not dwarfed by sh's start-up.
    hyperfine "${args[@]}" "${CMDS[@]}" >/dev/null
    # CSV: command,mean,stddev,median,user,system,min,max (seconds)
    while IFS=, read -r name mean stddev _ user system _; do
        WALL[$name]=$mean SD[$name]=$stddev
        CPU[$name]=$(awk -v u="$user" -v s="$system" 'BEGIN { print u + s }')
    done < <(tail -n +2 "$WORK/times.csv")
    TIMER="$(hyperfine --version), $RUNS runs after 3 warm-ups, no shell (-N)"
else
    for i in "${!NAMES[@]}"; do
        name=${NAMES[$i]} total=0 cpu=0
        for _ in $(seq "$RUNS"); do
            [ -n "${OUTS[$i]}" ] && "$ASIDE" "${OUTS[$i]}"
            t0=$(date +%s%N)
            # shellcheck disable=SC2086 # the commands hold no spaces but their separators
            /usr/bin/time -o "$WORK/cpu" -f '%U %S' ${CMDS[$i]} >/dev/null 2>&1
            c=$(tail -1 "$WORK/cpu")
            t1=$(date +%s%N)
            total=$((total + t1 - t0))
            cpu=$(awk -v c="$cpu" -v u="${c% *}" -v s="${c#* }" 'BEGIN { print c + u + s }')
        done
        WALL[$name]=$(awk -v t="$total" -v n="$RUNS" 'BEGIN { printf "%.6f", t / n / 1e9 }')
        CPU[$name]=$(awk -v c="$cpu" -v n="$RUNS" 'BEGIN { printf "%.6f", c / n }')
        SD[$name]=
    done
    TIMER="date +%s%N loop, $RUNS runs (hyperfine not used)"
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- peak memory ----------------------------------------------------------------------------
declare -A PEAK
for i in "${!NAMES[@]}"; do
    [ -n "${OUTS[$i]}" ] && "$ASIDE" "${OUTS[$i]}"
    # shellcheck disable=SC2086
    PEAK[${NAMES[$i]}]=$(/usr/bin/time -v ${CMDS[$i]} 2>&1 >/dev/null |
        awk -F': ' '/Maximum resident set size/ { print $2 }')
done

# --- report ----------------------------------------------------------------------------------
ms() { awk -v s="$1" 'BEGIN { printf "%.1f", s * 1000 }'; }
echo
echo "$(uname -srm), $(nproc) CPU(s), load average $LOAD_BEFORE before / $LOAD_AFTER after;" \
     "$(openssl version | cut -d' ' -f1-2); certgpo $("$BIN" --version | cut -d' ' -f2)"
echo "bundles on $(stat -f -c %T "$WORK") ($WORK)${SHM:+ and tmpfs}; wall/CPU: $TIMER; peak memory: /usr/bin/time -v"
echo
printf '| %-40s | %18s | %14s | %9s |\n' "process" "wall time (mean)" "CPU user+sys" "peak RSS"
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..42})" "$(printf -- '-%.0s' {1..20})" "$(printf -- '-%.0s' {1..16})" "$(printf -- '-%.0s' {1..11})"
for name in "${NAMES[@]}"; do
    wall="$(ms "${WALL[$name]}") ms"
    [ -n "${SD[$name]}" ] && wall="$wall ± $(ms "${SD[$name]}")"
    printf '| %-40s | %18s | %11s ms | %6.1f MB |\n' "$name" "$wall" "$(ms "${CPU[$name]}")" \
        "$(awk -v k="${PEAK[$name]}" 'BEGIN { print k / 1024 }')"
done
echo
openssl_name=${NAMES[0]} one=${NAMES[1]} many=${NAMES[2]}
awk -v b="${WALL[$one]}" -v o="${WALL[$openssl_name]}" -v cb="${CPU[$one]}" -v co="${CPU[$openssl_name]}" 'BEGIN {
    r = b / o
    printf "certgpo build (1 certificate) / one openssl call: %.2f wall, %.2f CPU (goal <= 3: %s)\n",
        r, cb / co, r <= 3 ? "met" : "NOT met" }'
for name in "${NAMES[@]:2}"; do
    awk -v t="${WALL[$name]}" -v c="${CPU[$name]}" -v n="$name" 'BEGIN {
        printf "%s: %.3f s wall, %.3f s CPU (goal < 1 s: %s)\n", n, t, c, t < 1 ? "met" : "NOT met" }'
done
