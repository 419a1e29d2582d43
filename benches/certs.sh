#!/usr/bin/env bash
# N distinct self-signed CA certificates (RSA 2048, one shared key, different subjects
# and serials) as DIR/bench-NNNN.pem, generated once and kept: the benchmarks'
# inputs (benches/build.sh, benches/limits.sh). The private key is thrown away.
#
#   bash benches/certs.sh N DIR
#
# Uses python3-cryptography when installed (seconds), else one openssl call a certificate.
set -euo pipefail
N=$1
CACHE=$2

generate_python() {
    python3 - "$N" "$1" <<'EOF'
import datetime, os, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

n, out = int(sys.argv[1]), sys.argv[2]
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
for i in range(n):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"certgpo bench {i:04d}")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(i + 1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=7300))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    with open(os.path.join(out, f"bench-{i:04d}.pem"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
EOF
}

generate_openssl() {
    local key
    key=$(mktemp)
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$key" 2>/dev/null
    for i in $(seq 0 $((N - 1))); do
        openssl req -x509 -new -key "$key" -days 7300 -set_serial $((i + 1)) \
            -subj "/CN=certgpo bench $(printf %04d "$i")" \
            -out "$1/bench-$(printf %04d "$i").pem" 2>/dev/null
    done
    rm -f "$key"
}

if [ "$(find "$CACHE" -name '*.pem' 2>/dev/null | wc -l)" -ne "$N" ]; then
    echo "Generating $N certificates into $CACHE (once; the private key is thrown away)..."
    rm -rf "$CACHE" && mkdir -p "$CACHE"
    if python3 -c 'import cryptography' 2>/dev/null; then
        generate_python "$CACHE"
    else
        generate_openssl "$CACHE"
    fi
fi

