#!/usr/bin/env bash
# Benchmark `certgpo discover` (the Active Directory SCP path) against what an admin
# would run instead: `ldapsearch` for the rootDSE's configurationNamingContext, then
# `ldapsearch` for the Autodiscover SCPs under it, both over StartTLS with the
# directory's certificate validated, as certgpo does. Same run, same server: slapd on
# 127.0.0.1 with the project's AD-schema fixture (tests/fixtures/discover), a
# throwaway CA, three URL SCPs and two pointers. Timing by hyperfine.
#
#   benches/discover.sh [CERTGPO_BINARY]        (default: target/release/certgpo)
#   RUNS=200 benches/discover.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-target/release/certgpo}
RUNS=${RUNS:-100}
[ -x "$BIN" ] || { echo "build first: cargo build --release (or pass the binary)" >&2; exit 2; }
for tool in slapd slapadd ldapsearch openssl hyperfine timeout; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done

work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill -KILL -- "-$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fx=tests/fixtures/discover
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca.key" -out "$work/ca.pem" \
  -days 2 -subj "/CN=bench CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/server.key" -out "$work/server.pem" \
  -days 2 -subj "/CN=localhost" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
  -addext subjectAltName=IP:127.0.0.1 -addext basicConstraints=critical,CA:FALSE 2>/dev/null
{
  echo "TLSCACertificateFile $work/ca.pem"
  echo "TLSCertificateFile $work/server.pem"
  echo "TLSCertificateKeyFile $work/server.key"
  sed "s|/tmp/slapd|$work|g" "$fx/slapd.conf"
} > "$work/slapd.conf"
cp "$fx/ad-scp.schema" "$fx/rootdse.ldif" "$work/"
mkdir "$work/db"
{
  sed 's/objectClass: container/objectClass: adContainer/' "$fx/scp-samba.ldif"
  base="CN=Servers,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,CN=Contoso,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=contoso,DC=test"
  printf '\ndn: CN=EX2016,%s\nobjectClass: adContainer\n' "$base"
  printf '\ndn: CN=EX2016,CN=EX2016,%s\nobjectClass: serviceConnectionPoint\nserviceBindingInformation: https://ex2016.contoso.test/Autodiscover/Autodiscover.xml\nkeywords: 77378F46-2C66-4aa9-A6A6-3E7A48B19596\n' "$base"
  for d in fabrikam.test other.test; do
    printf '\ndn: CN=PTR-%s,%s\nobjectClass: serviceConnectionPoint\nserviceBindingInformation: LDAP://dc1.%s\nkeywords: 67661d7F-8FC4-4fa7-BFAC-E1D7794C1F68\nkeywords: Domain=%s\n' "$d" "$base" "$d" "$d"
  done
} > "$work/scp.ldif"
slapadd -q -f "$work/slapd.conf" -l "$fx/base.ldif"
slapadd -q -f "$work/slapd.conf" -l "$work/scp.ldif"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Own process group, bounded life: the server dies even if this script is killed.
setsid timeout -s KILL 600 slapd -f "$work/slapd.conf" -h "ldap://127.0.0.1:$port/" -d 0 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done

url="ldap://127.0.0.1:$port"
filter='(&(objectClass=serviceConnectionPoint)(|(keywords=67661d7F-8FC4-4fa7-BFAC-E1D7794C1F68)(keywords=77378F46-2C66-4aa9-A6A6-3E7A48B19596)))'
export LDAPTLS_CACERT="$work/ca.pem" LDAPTLS_REQCERT=demand
cat > "$work/ldapsearch.sh" <<EOF
#!/bin/sh
set -e
base=\$(ldapsearch -LLL -ZZ -x -H $url -b "" -s base configurationNamingContext | sed -n 's/^configurationNamingContext: //p')
ldapsearch -LLL -ZZ -x -H $url -b "\$base" '$filter' serviceBindingInformation keywords
EOF
chmod +x "$work/ldapsearch.sh"

# Both must find the three URL SCPs before anything is timed.
[ "$("$BIN" discover --ldap "$url" --ldap-ca "$work/ca.pem" --site Site-A --json | grep -c '"source": "scp"')" = 3 ]
[ "$("$work/ldapsearch.sh" | grep -c '^serviceBindingInformation: https')" = 3 ]

hyperfine --style basic --warmup 5 --runs "$RUNS" -N \
  -n "certgpo discover" "$BIN discover --ldap $url --ldap-ca $work/ca.pem --site Site-A --json" \
  -n "ldapsearch x2 (rootDSE + SCPs)" "$work/ldapsearch.sh"
