#!/usr/bin/env bash
# `certgpo audit` of a live domain against what a Linux admin runs instead: `samba-tool
# gpo listall`, then `samba-tool gpo fetch` of every GPO (which copies its SYSVOL folder
# over SMB), then reading the registry.pol files. Same run, same domain: a Samba AD DC
# provisioned by this script on a loopback address of its own, with N GPOs (200 by
# default) made by `samba-tool gpo create`; one in ten holds the NSA-CERT registry.pol (37
# certificates) in its Machine folder, the others only their GPT.INI, as in a domain
# where a few GPOs distribute certificates. (With the 37 certificates in every GPO,
# `EVERY=1`, certgpo's memory goes to the `duplicate` findings: each of the 7,400
# entries names the 199 other GPOs holding the same certificate.) Wall time and peak memory by GNU time
# (`/usr/bin/time -v`: "Maximum resident set size" is the largest single process, for
# the loop as for certgpo), best of RUNS runs each.
#
#   sudo bash benches/live_audit.sh                  # N=200 RUNS=3
#   N=50 RUNS=1 sudo bash benches/live_audit.sh
#
# Needs root (Samba), samba, samba-tool, smbclient, unshare, /usr/bin/time, cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
case $PWD in *[[:space:]]*) echo "benches/live_audit.sh: run it from a path without spaces" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "benches/live_audit.sh: Samba needs root" >&2; exit 2; }
for tool in samba samba-tool smbclient unshare timeout /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done

N=${N:-200}
EVERY=${EVERY:-10}
RUNS=${RUNS:-3}
PW='Passw0rd!Bench123'
IP=${IP:-127.77.$((RANDOM % 200 + 20)).$((RANDOM % 200 + 20))}
mkdir -p target/bench
WORK=$(mktemp -d -p "$PWD/target/bench" live.XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

cargo build --release --quiet
BIN=$PWD/target/release/certgpo
POL="$PWD/tests/data/nsa-cert/{D1DE50B0-DF95-405B-B2DA-6C16CBB6BF54}/DomainSysvol/GPO/Machine/registry.pol"

# --- the domain (as tests/samba_dc provisions it) ----------------------------------------
DC=$WORK/dc
samba-tool domain provision --realm=BENCH.TEST --domain=BENCH --server-role=dc \
  --dns-backend=SAMBA_INTERNAL --adminpass="$PW" --targetdir="$DC" --host-name=dc1 \
  --host-ip="$IP" --option="interfaces=$IP/8" --option="bind interfaces only=yes" > "$WORK/provision.log"
sed -i -e '/dns forwarder/d' -e '/log file/d' -e "/^\[global\]/a\\
\tlog file = $DC/log.%m\\
\tpid directory = $DC\\
\tncalrpc dir = $DC/ncalrpc\\
\twinbindd socket directory = $DC/winbindd\\
\tserver services = ldap cldap kdc rpc dns winbindd s3fs\\
\tdisable netbios = yes\\
\tserver signing = mandatory\\
\ttls enabled = yes" "$DC/etc/smb.conf"
mkdir -p "$DC/winbindd" /run/samba/winbindd
# smbd finds winbindd only in /run/samba/winbindd: give this DC its own (tests/samba_dc).
setsid timeout -s KILL 3600 unshare --mount --propagation private sh -c \
  "mount --bind $DC/winbindd /run/samba/winbindd && exec samba -M single -s $DC/etc/smb.conf -F --no-process-group" \
  > "$WORK/samba.out" 2>&1 &
pid=$!
for port in 636 445; do
  for _ in $(seq 90); do (exec 3<>"/dev/tcp/$IP/$port") 2>/dev/null && break; sleep 1; done
done
ST=(-H "ldap://$IP" -U Administrator --password="$PW" -s "$DC/etc/smb.conf")
until samba-tool gpo listall "${ST[@]}" > /dev/null 2>&1; do sleep 1; done

echo "creating $N GPOs..." >&2
for i in $(seq "$N"); do
  guid=$(samba-tool gpo create "Bench GPO $i" "${ST[@]}" 2>/dev/null | grep -o '{[0-9A-Fa-f-]*}')
  if [ $((i % EVERY)) = 0 ]; then
    cp "$POL" "$DC/state/sysvol/bench.test/Policies/$guid/Machine/Registry.pol"
  fi
done
echo "$PW" > "$WORK/pw"
GPOS=$(samba-tool gpo listall "${ST[@]}" | grep -c '^GPO  *:')
echo "the domain holds $GPOS GPOs" >&2

# --- the two ways, same run --------------------------------------------------------------
cat > "$WORK/samba-way.sh" <<EOF
set -e
cd "$WORK"
rm -rf fetched; mkdir fetched
for g in \$(samba-tool gpo listall -H ldap://$IP -U Administrator --password='$PW' -s $DC/etc/smb.conf | awk '/^GPO  *:/ {print \$3}'); do
  samba-tool gpo fetch "\$g" -H ldap://$IP -U Administrator --password='$PW' -s $DC/etc/smb.conf --tmpdir fetched > /dev/null
done
find fetched -iname registry.pol | wc -l
EOF
certgpo_way=("$BIN" audit --ldap "ldaps://$IP" --ldap-insecure --user Administrator@bench.test
  --password-file "$WORK/pw" --format json)

# "seconds peak-MiB" of one run (output thrown away); the best of RUNS.
measure() {
  local best_t="" best_m=""
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -v -o "$WORK/t" "$@" > "$WORK/out" 2> "$WORK/err" || {
      echo "failed: $*" >&2; cat "$WORK/err" >&2; exit 1; }
    read -r m t < <(awk -F': ' '
      /Maximum resident set size/ { rss = $2 }
      /Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i] }
      END { printf "%.1f %.2f\n", rss / 1024, s }' "$WORK/t")
    if [ -z "$best_t" ] || awk "BEGIN { exit !($t < $best_t) }"; then best_t=$t; best_m=$m; fi
  done
  echo "$best_t $best_m"
}

read -r ct cm < <(measure "${certgpo_way[@]}")
entries=$(grep -c '"thumbprint"' "$WORK/out" || true)
read -r ot om < <(measure "${certgpo_way[@]}" --gpo "Bench GPO $EVERY")
read -r st sm < <(measure bash "$WORK/samba-way.sh")
fetched=$(cat "$WORK/out")
printf '%s GPOs (%s certificate entries read by certgpo; %s registry.pol among the files samba-tool fetched), best of %s\n' \
  "$GPOS" "$entries" "$fetched" "$RUNS"
printf '%-62s %8s %10s\n' "" "seconds" "peak MiB"
printf '%-62s %8s %10s\n' "certgpo audit --ldap (LDAP + SYSVOL over SMB, every GPO)" "$ct" "$cm"
printf '%-62s %8s %10s\n' "samba-tool gpo listall + samba-tool gpo fetch per GPO" "$st" "$sm"
printf '%-62s %8s %10s\n' "(certgpo audit --ldap --gpo of one GPO: the fixed cost)" "$ot" "$om"
awk -v a="$st" -v b="$ct" 'BEGIN { printf "ratio: certgpo is %.1fx faster\n", a / b }'
