#!/usr/bin/env bash
# Benchmark `certgpo discover --email` (the whole Autodiscover path) against what an
# admin does instead: `curl --ntlm` POSTs of the Autodiscover request, following each
# redirectUrl by hand, then `openssl s_client` for the certificate of every host of the
# path and of the settings. Same run, same servers: the Exchange stand-ins of the tests
# (tests/autodiscover_fixture/cas.py, NTLM checked by impacket) on loopback, a path of
# 3 hops (SRV -> ex2007 -> exb -> ex2010, the last TLS 1.0 only with a self-signed
# certificate) whose settings name 6 service hosts. Timing by hyperfine.
#
#   benches/autodiscover.sh [CERTGPO_BINARY]        (default: target/release/certgpo)
#   RUNS=50 benches/autodiscover.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-target/release/certgpo}
RUNS=${RUNS:-30}
PY=/usr/bin/python3
[ -x "$BIN" ] || { echo "build first: cargo build --release (or pass the binary)" >&2; exit 2; }
for tool in curl openssl hyperfine timeout setsid; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done
"$PY" -c 'import impacket.ntlm' || { echo "needs python3-impacket" >&2; exit 2; }

work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill -KILL -- "-$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/root.key" -out "$work/root.pem" \
  -days 2 -subj "/CN=Contoso Root CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
issue() { # name host
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/$1.key" -out "$work/$1.pem" \
    -days 2 -subj "/CN=$2" -CA "$work/root.pem" -CAkey "$work/root.key" \
    -addext "subjectAltName=DNS:$2" -addext basicConstraints=critical,CA:FALSE 2>/dev/null
}
issue ex2007 ex2007.contoso.test
issue exb exb.contoso.test
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/ex2010.key" -out "$work/ex2010.pem" -days 2 \
  -subj "/CN=ex2010.contoso.test" -addext "subjectAltName=DNS:ex2010.contoso.test" 2>/dev/null
sha2010=$(openssl x509 -in "$work/ex2010.pem" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')

services="oab ecp ews owa um mapi"
declare -A port
for h in ex2007 exb ex2010 $services dns; do port[$h]=$(free_port); done
for h in $services; do issue "$h" "$h.contoso.test"; done

url() { echo "https://$1.contoso.test:${port[$1]}$2"; }
users='{"CONTOSO\\ann": "Passw0rd!", "ann@contoso.test": "Passw0rd!"}'
settings=$(cat <<EOF
[{"type": "EXCH", "entries": [["Server", "EX2010.contoso.test"],
   ["ASUrl", "$(url ex2010 /EWS/Exchange.asmx)"], ["OABUrl", "$(url oab /OAB/)"],
   ["EcpUrl", "$(url ecp /ecp/)"], ["UMUrl", "$(url um /UM/)"]]},
 {"type": "EXPR", "entries": [["EwsUrl", "$(url ews /EWS/Exchange.asmx)"], ["Url", "$(url mapi /mapi/)"]]},
 {"type": "WEB", "Internal": ["$(url owa /owa/)"]}]
EOF
)
servers=""
for h in $services; do
  servers="$servers, {\"name\": \"$h\", \"port\": ${port[$h]}, \"cert\": \"$work/$h.pem\", \"key\": \"$work/$h.key\"}"
done
names=$(for h in ex2007 exb ex2010 $services; do printf '"%s.contoso.test": "127.0.0.1", ' "$h"; done)
cat > "$work/cas.json" <<EOF
{"log": "$work/requests.log",
 "dns": {"port": ${port[dns]}, "names": {${names%, }},
         "srv": {"_autodiscover._tcp.contoso.test": ["ex2007.contoso.test", ${port[ex2007]}]}},
 "servers": [
  {"name": "ex2007", "port": ${port[ex2007]}, "cert": "$work/ex2007.pem", "key": "$work/ex2007.key",
   "auth": ["ntlm"], "users": $users,
   "mailboxes": {"ann@contoso.test": {"redirectUrl": "$(url exb /Autodiscover/Autodiscover.xml)"}}},
  {"name": "exb", "port": ${port[exb]}, "cert": "$work/exb.pem", "key": "$work/exb.key",
   "auth": ["ntlm"], "users": $users,
   "mailboxes": {"ann@contoso.test": {"redirectUrl": "$(url ex2010 /Autodiscover/Autodiscover.xml)"}}},
  {"name": "ex2010", "port": ${port[ex2010]}, "cert": "$work/ex2010.pem", "key": "$work/ex2010.key",
   "tls": "tls1", "auth": ["ntlm"], "users": $users,
   "mailboxes": {"ann@contoso.test": {"settings": $settings}}}
  $servers]}
EOF
# Own process group, bounded life: the servers die even if this script is killed.
setsid timeout -s KILL 900 "$PY" tests/autodiscover_fixture/cas.py "$work/cas.json" >"$work/cas.out" 2>&1 &
pid=$!
disown "$pid"
for _ in $(seq 1 100); do grep -q ready "$work/cas.out" 2>/dev/null && break; sleep 0.05; done

# What the admin runs: each POST with curl --ntlm, the next URL cut out of the answer by
# hand, then the certificate of every host named anywhere on the path.
cat > "$work/request.xml" <<'EOF'
<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>ann@contoso.test</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>
EOF
resolve=$(for h in ex2007 exb ex2010; do printf -- '--resolve %s.contoso.test:%s:127.0.0.1 ' "$h" "${port[$h]}"; done)
cat > "$work/admin.sh" <<EOF
#!/bin/bash
set -e
post() { curl -sS --ntlm -u 'CONTOSO\\ann:Passw0rd!' $resolve --cacert $work/root.pem \
  -H 'Content-Type: text/xml' --data-binary @$work/request.xml "\$@"; }
a=\$(post $(url ex2007 /Autodiscover/Autodiscover.xml))
b=\$(post "\$(echo "\$a" | sed -n 's:.*<RedirectUrl>\(.*\)</RedirectUrl>.*:\1:p')")
# The 2010 CAS: self-signed (-k, as the admin clicks through), TLS 1.0 only.
c=\$(post -k --tlsv1.0 --ciphers 'DEFAULT:@SECLEVEL=0' "\$(echo "\$b" | sed -n 's:.*<RedirectUrl>\(.*\)</RedirectUrl>.*:\1:p')")
for hp in \$( (echo "\$a\$b\$c" | grep -o 'https://[^/<]*' ; echo https://ex2007.contoso.test:${port[ex2007]}) | sed 's,https://,,' | sort -u); do
  echo | openssl s_client -connect "127.0.0.1:\${hp#*:}" -servername "\${hp%:*}" -cipher 'DEFAULT:@SECLEVEL=0' 2>/dev/null \
    | openssl x509 -noout -subject -issuer -fingerprint -sha1
done
EOF
chmod +x "$work/admin.sh"
export CERTGPO_MAIL_PASSWORD='Passw0rd!'
certgpo="$BIN discover --domain contoso.test --dns-server 127.0.0.1:${port[dns]} --email ann@contoso.test --mail-user ann@contoso.test --client-roots $work/root.pem --expect $sha2010 --timeout 5s --json"

# Both must see the 3 hops and 9 hosts before anything is timed.
[ "$($certgpo 2>/dev/null | grep -c '"thumbprint"')" -ge 9 ]
[ "$("$work/admin.sh" | grep -ci "^sha1 Fingerprint")" = 9 ]

hyperfine --style basic --warmup 3 --runs "$RUNS" -N \
  -n "certgpo discover --email" "$certgpo" \
  -n "curl --ntlm x3 + openssl s_client x9" "$work/admin.sh"
