#!/bin/sh
# Names below are single-quoted on purpose: they must never expand.
# shellcheck disable=SC2016
# certgpo 0.1.0: trust (install) or stop trusting (remove) the root certificates
# of one GPO on a Linux client or server, through the distribution's anchors:
#   Debian, Ubuntu  /usr/local/share/ca-certificates, update-ca-certificates
#   RHEL, Fedora    /etc/pki/ca-trust/source/anchors, update-ca-trust extract
#   SUSE            /etc/pki/trust/anchors, update-ca-certificates
# Usage, as root: sh certgpo-trust.sh install|remove
# CERTGPO_ROOT=DIR works on the tree under DIR instead of / (tests; the links
# update-ca-certificates makes there point into DIR); CERTGPO_FAMILY=debian|redhat|suse
# skips the detection.
set -eu
umask 022

gpo_name='certgpo - Trusted Certificates'
root=${CERTGPO_ROOT:-}

say() {
	printf 'certgpo-trust.sh: %s\n' "$*"
}

die() {
	say "$*" >&2
	exit 2
}

family=${CERTGPO_FAMILY:-}
if [ -z "$family" ]; then
	if [ -d "$root/etc/pki/ca-trust/source/anchors" ]; then
		family=redhat
	elif [ -d "$root/etc/pki/trust/anchors" ]; then
		family=suse
	elif [ -d "$root/usr/local/share/ca-certificates" ] || [ -f "$root/etc/debian_version" ]; then
		family=debian
	else
		die "no anchors directory of Debian, RHEL or SUSE under ${root:-/}; set CERTGPO_FAMILY"
	fi
fi
case $family in
debian) dir=$root/usr/local/share/ca-certificates ;;
redhat) dir=$root/etc/pki/ca-trust/source/anchors ;;
suse) dir=$root/etc/pki/trust/anchors ;;
*) die "CERTGPO_FAMILY must be debian, redhat or suse, not $family" ;;
esac

# Rebuild the system store from the anchors directory; "$@" are extra options of
# Debian's update-ca-certificates (--fresh after a removal).
refresh() {
	case $family in
	debian)
		if [ -n "$root" ]; then
			set -- "$@" --certsconf "$root/etc/ca-certificates.conf" \
				--certsdir "$root/usr/share/ca-certificates" \
				--localcertsdir "$root/usr/local/share/ca-certificates" \
				--etccertsdir "$root/etc/ssl/certs" \
				--hooksdir "$root/etc/ca-certificates/update.d"
		fi
		update-ca-certificates "$@"
		;;
	redhat)
		if [ -n "$root" ]; then
			say "run update-ca-trust extract inside $root"
		else
			update-ca-trust extract
		fi
		;;
	suse)
		if [ -n "$root" ]; then
			say "run update-ca-certificates inside $root"
		else
			update-ca-certificates
		fi
		;;
	esac
}

# $1 thumbprint, $2 name; the PEM certificate on standard input.
install_anchor() {
	file=$dir/certgpo-$1.crt
	cat >"$file.tmp"
	chmod 0644 "$file.tmp"
	mv -f "$file.tmp" "$file"
	say "trusting $2 ($1): $file"
}

# $1 thumbprint, $2 name.
remove_anchor() {
	file=$dir/certgpo-$1.crt
	if [ -e "$file" ]; then
		rm -f "$file"
		say "no longer trusting $2 ($1)"
	else
		say "$2 ($1) was not installed"
	fi
}

if [ $# -ne 1 ]; then
	die "usage: sh certgpo-trust.sh install|remove"
fi
case $1 in
install)
	say "GPO $gpo_name: adding 1 anchor(s) to $dir"
	mkdir -p "$dir"
	install_anchor 1488ABC2B46A2C685EBDB8B67B2335A50CFF7DAE 'EXCH2010' <<'CERTGPO_PEM'
-----BEGIN CERTIFICATE-----
MIIDJDCCAgygAwIBAgIUX75nRKS2emF5kL3ztXLtRIWTYEcwDQYJKoZIhvcNAQEF
BQAwEzERMA8GA1UEAwwIRVhDSDIwMTAwHhcNMjYxMTI4MTgxNTQ5WhcNMzExMTI4
MTgxNTQ5WjATMREwDwYDVQQDDAhFWENIMjAxMDCCASIwDQYJKoZIhvcNAQEBBQAD
ggEPADCCAQoCggEBAKh2BTdx1/nfX5oie5hku89BIxDuLihRW/bYeb9m/0S5mLCT
JRignSQwJEafZDn73lRQ12zvKsNZlJMki4nvoxGUHoMN6cIbTmgjLtcJ9px0tHlT
h/L76rKwHMRjr0FTtChqp3sNXWFD0ZIyi6c4+bEc4NXGkj2PmnDoHXHC/YfEX+hw
ZpFrYVkNReVweRQtlgevmBUCPtjTMxsJxbHk5LxiR33eVJcapmxV5DiDy32PaM2G
074fqLUnf/UKXkeOgzLjK8375EKkm0WtSyyzc8whv9+EGkt4FucIdmCWIq4XX5Uv
ynsu2cl4r9jf9i4mWqkLc7AhZowuivtzQAFld7MCAwEAAaNwMG4wKwYDVR0RBCQw
IoIIRVhDSDIwMTCCFmV4Y2gyMDEwLmNvbnRvc28ubG9jYWwwEwYDVR0lBAwwCgYI
KwYBBQUHAwEwHQYDVR0OBBYEFMdCQ4KkzXZsllA06yahxthEJnzbMAsGA1UdDwQE
AwIFoDANBgkqhkiG9w0BAQUFAAOCAQEAPxC48TUPu9J/V8pnvU6f1EF05+C4J8gB
qCDOhaewAJNFGBesbNuLEZxfwFN6p1fAsqtsni+lVhrBoY8ZyQV52lPeemXiRLh5
SeF3sNaozngklmqaKyYyULuWiBjL1zjifSRQGZ7QJiGwi4r27oYo47Avzv1Ru53q
pg+a8cZvfB9zxCqfOKJd48hPPdaOy2z3P+fUWjUgMitrCG3u28XMJPPFHs165ALN
MRJiNJmtZm6CxwzkIc7JjakVVPCeR/2hPdEMsT7un3onAtkWgQTyGWA61NSfLzva
D1VTN4yFU4iamBhEuq/Z5MFp5iXzOzTdTa+0KNBE4/tr0oItq/ndkg==
-----END CERTIFICATE-----
CERTGPO_PEM
	refresh
	;;
remove)
	say "GPO $gpo_name: removing 1 anchor(s) from $dir"
	remove_anchor 1488ABC2B46A2C685EBDB8B67B2335A50CFF7DAE 'EXCH2010'
	refresh --fresh
	;;
*)
	die "usage: sh certgpo-trust.sh install|remove"
	;;
esac
