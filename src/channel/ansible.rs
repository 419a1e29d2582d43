//! Ansible: a playbook that copies each certificate to the Windows hosts and adds it to
//! its `LocalMachine` store with `ansible.windows.win_certificate_store`, and one that
//! removes exactly those thumbprints again. The module opens the store by its system
//! name (`Root`, `CA`, `TrustedPeople`, `TrustedPublisher`, `Disallowed`), so every store
//! the GPO uses has its equivalent here; see `ansible-doc
//! ansible.windows.win_certificate_store` and
//! <https://docs.ansible.com/ansible/latest/collections/ansible/windows/win_certificate_store_module.html>.
//!
//! YAML is written here: every string that holds a name is a single-quoted scalar (a
//! quote doubles: YAML 1.2, section 7.3.2) tagged `!unsafe`, so that Ansible never evaluates a
//! `{{ ... }}` in a certificate's subject as a Jinja2 template
//! (<https://docs.ansible.com/ansible/latest/playbook_guide/playbooks_advanced_syntax.html>).

use super::TrustSet;
use crate::bundle;

/// Where the certificates are copied on each host before the import (and deleted after).
const REMOTE_DIR: &str = r"C:\Windows\Temp\certgpo";

/// A YAML single-quoted scalar for exactly `s`, which has no line breaks or control
/// characters ([`super::label_text`]).
pub fn yaml_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A name Ansible prints but must not template.
fn unsafe_text(s: &str) -> String {
    format!("!unsafe {}", yaml_quote(s))
}

/// The start of a playbook: its single play and the hosts it runs on.
fn play(name: &str, version: &str) -> String {
    format!(
        "---\n\
         # Built by certgpo {version}. Hosts: the group `windows`, or -e certgpo_hosts=PATTERN.\n\
         - name: {}\n  \
           hosts: \"{{{{ certgpo_hosts | default('windows') }}}}\"\n  \
           gather_facts: false\n  \
           tasks:\n",
        unsafe_text(name)
    )
}

pub(super) fn files(set: &TrustSet) -> Vec<(String, Vec<u8>)> {
    let gpo = super::label_text(set.gpo_name);
    let dir = yaml_quote(REMOTE_DIR);
    let mut files = Vec::new();
    let mut trust = play(
        &format!("Trust the certificates of GPO '{gpo}' (certgpo)"),
        set.version,
    );
    trust.push_str(&format!(
        "    - name: Create the folder the certificates are copied to\n      \
               ansible.windows.win_file:\n        \
                 path: {dir}\n        \
                 state: directory\n"
    ));
    let mut remove = play(
        &format!("Remove the certificates of GPO '{gpo}' (certgpo)"),
        set.version,
    );
    for a in &set.anchors {
        let thumbprint = a.cert.thumbprint();
        let store = a.store.registry_name();
        let label = set.label(a);
        let remote = yaml_quote(&format!(r"{REMOTE_DIR}\{thumbprint}.cer"));
        trust.push_str(&format!(
            "    - name: {}\n      \
                   ansible.windows.win_copy:\n        \
                     src: files/{thumbprint}.cer\n        \
                     dest: {remote}\n    \
                 - name: {}\n      \
                   ansible.windows.win_certificate_store:\n        \
                     path: {remote}\n        \
                     store_location: LocalMachine\n        \
                     store_name: {store}\n        \
                     state: present\n",
            unsafe_text(&format!("Copy {label} ({thumbprint})")),
            unsafe_text(&format!(
                r"Add {label} ({thumbprint}) to LocalMachine\{store}"
            )),
        ));
        remove.push_str(&format!(
            "    - name: {}\n      \
                   ansible.windows.win_certificate_store:\n        \
                     thumbprint: {thumbprint}\n        \
                     store_location: LocalMachine\n        \
                     store_name: {store}\n        \
                     state: absent\n",
            unsafe_text(&format!(
                r"Remove {label} ({thumbprint}) from LocalMachine\{store}"
            )),
        ));
        files.push((bundle::ansible_cert(&thumbprint), a.cert.der.clone()));
    }
    trust.push_str(&format!(
        "    - name: Delete the copied certificate files\n      \
               ansible.windows.win_file:\n        \
                 path: {dir}\n        \
                 state: absent\n"
    ));
    files.push((bundle::ANSIBLE_TRUST.to_string(), trust.into_bytes()));
    files.push((bundle::ANSIBLE_REMOVE.to_string(), remove.into_bytes()));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_double() {
        assert_eq!(yaml_quote(r"it's C:\x"), r"'it''s C:\x'");
        assert_eq!(unsafe_text("{{ x }}"), "!unsafe '{{ x }}'");
    }
}
