//! Linux clients and servers: the Root certificates as PEM anchors, and one POSIX shell
//! script that installs them in the distribution's anchors directory and refreshes the
//! system store, or removes exactly them again:
//! - Debian, Ubuntu: `/usr/local/share/ca-certificates/*.crt`, `update-ca-certificates`
//!   (update-ca-certificates(8); after a removal `--fresh` drops the stale links);
//! - RHEL, Fedora: `/etc/pki/ca-trust/source/anchors`, `update-ca-trust extract`
//!   (update-ca-trust(8));
//! - SUSE: `/etc/pki/trust/anchors`, `update-ca-certificates`.
//!
//! CA (intermediate) certificates are left out: every file in those directories is a
//! trust anchor to GnuTLS and NSS, which would trust an intermediate as a root, more than
//! Windows' Intermediate store grants. Servers must send their chain.
//!
//! Names reach the script only as single-quoted words ([`sh_quote`]); file names are
//! thumbprints; the certificates are quoted here-documents.

use super::{Channel, ChannelError, TrustSet};
use crate::store::Store;

/// A POSIX shell word that stands for exactly `s`: inside single quotes nothing is
/// special but the quote itself, which is closed, escaped and reopened.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Thumbprints of the certificates the channel leaves out (CA certificates).
pub fn skipped(set: &TrustSet) -> Vec<String> {
    set.anchors
        .iter()
        .filter(|a| a.store == Store::Ca)
        .map(|a| a.cert.thumbprint())
        .collect()
}

/// The part of the script that is the same in every bundle.
const DETECT_AND_REFRESH: &str = r#"root=${CERTGPO_ROOT:-}

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
"#;

pub(super) fn files(set: &TrustSet) -> Result<Vec<(String, Vec<u8>)>, ChannelError> {
    let anchors: Vec<_> = set
        .root_and_ca(Channel::Linux, "the Linux anchors")?
        .iter()
        .filter(|a| a.store == Store::Root)
        .collect();
    let mut files = Vec::new();
    let mut install = String::new();
    let mut remove = String::new();
    for a in &anchors {
        let thumbprint = a.cert.thumbprint();
        let pem = crate::cert::to_pem(&a.cert.der);
        let name = sh_quote(&set.label(a));
        install.push_str(&format!(
            "\tinstall_anchor {thumbprint} {name} <<'CERTGPO_PEM'\n{pem}CERTGPO_PEM\n"
        ));
        remove.push_str(&format!("\tremove_anchor {thumbprint} {name}\n"));
        files.push((crate::bundle::linux_anchor(&thumbprint), pem.into_bytes()));
    }
    let skipped = skipped(set);
    let skipped_note = if skipped.is_empty() {
        String::new()
    } else {
        format!(
            "# Left out, as intermediate (CA) certificates are not trust anchors: {}.\n",
            skipped.join(", ")
        )
    };
    let script = format!(
        "#!/bin/sh\n\
         # Names below are single-quoted on purpose: they must never expand.\n\
         # shellcheck disable=SC2016\n\
         # certgpo {version}: trust (install) or stop trusting (remove) the root certificates\n\
         # of one GPO on a Linux client or server, through the distribution's anchors:\n\
         #   Debian, Ubuntu  /usr/local/share/ca-certificates, update-ca-certificates\n\
         #   RHEL, Fedora    /etc/pki/ca-trust/source/anchors, update-ca-trust extract\n\
         #   SUSE            /etc/pki/trust/anchors, update-ca-certificates\n\
         # Usage, as root: sh certgpo-trust.sh install|remove\n\
         # CERTGPO_ROOT=DIR works on the tree under DIR instead of / (tests; the links\n\
         # update-ca-certificates makes there point into DIR); CERTGPO_FAMILY=debian|redhat|suse\n\
         # skips the detection.\n\
         {skipped_note}\
         set -eu\n\
         umask 022\n\
         \n\
         gpo_name={gpo}\n\
         {DETECT_AND_REFRESH}\n\
         if [ $# -ne 1 ]; then\n\
         \tdie \"usage: sh certgpo-trust.sh install|remove\"\n\
         fi\n\
         case $1 in\n\
         install)\n\
         \tsay \"GPO $gpo_name: adding {count} anchor(s) to $dir\"\n\
         \tmkdir -p \"$dir\"\n\
         {install}\
         \trefresh\n\
         \t;;\n\
         remove)\n\
         \tsay \"GPO $gpo_name: removing {count} anchor(s) from $dir\"\n\
         {remove}\
         \trefresh --fresh\n\
         \t;;\n\
         *)\n\
         \tdie \"usage: sh certgpo-trust.sh install|remove\"\n\
         \t;;\n\
         esac\n",
        version = set.version,
        gpo = sh_quote(&super::label_text(set.gpo_name)),
        count = anchors.len(),
    );
    files.push((crate::bundle::LINUX_SCRIPT.to_string(), script.into_bytes()));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_close_and_reopen() {
        assert_eq!(sh_quote("it's $(x) `y`"), r"'it'\''s $(x) `y`'");
        assert_eq!(sh_quote(""), "''");
    }
}
