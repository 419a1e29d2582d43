#!/usr/bin/python3
"""Read the channel files of a certgpo bundle with Python's own parsers; print JSON.

Test-only oracle for tests/channels.rs (written for this project). It shares no code
with certgpo: plistlib reads the macOS profile, json the Intune objects, PyYAML the
Ansible playbooks, base64 decodes every embedded certificate. Run it with the Debian
python (/usr/bin/python3, packages python3-yaml).

Usage: channels.py BUNDLE_DIR
Output: {"macos": {"top": {key: value}, "payloads": [payload]} or null,
         "intune": {"profiles": [object], "custom": object} or null,
         "ansible": {"trust": play, "remove": play} or null}
where every certificate (plist data, Graph binary, OMA-URI value) is replaced by its
bytes as lowercase hex under the same key, and booleans stay booleans.
"""
import base64
import glob
import json
import os
import plistlib
import sys

import yaml


class AnsibleLoader(yaml.SafeLoader):
    """SafeLoader that reads Ansible's `!unsafe` tag as the plain string it marks."""


AnsibleLoader.add_constructor(
    "!unsafe", lambda loader, node: loader.construct_scalar(node)
)


def b64_hex(text):
    # validate=True refuses any character outside the base64 alphabet, such as a
    # line break the CSP forbids.
    return base64.b64decode(text, validate=True).hex()


def macos(bundle):
    path = os.path.join(bundle, "macos", "trust.mobileconfig")
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        # FMT_XML: the file must be an XML plist, not a binary one.
        profile = plistlib.load(f, fmt=plistlib.FMT_XML)
    payloads = []
    for p in profile["PayloadContent"]:
        p = dict(p)
        p["PayloadContent"] = p["PayloadContent"].hex()
        payloads.append(p)
    top = {k: v for k, v in profile.items() if k != "PayloadContent"}
    return {"top": top, "payloads": payloads}


def intune(bundle):
    folder = os.path.join(bundle, "intune")
    if not os.path.isdir(folder):
        return None
    profiles = []
    for path in sorted(glob.glob(os.path.join(folder, "trusted-certificate-*.json"))):
        with open(path, encoding="utf-8") as f:
            obj = json.load(f)
        obj["trustedRootCertificate"] = b64_hex(obj["trustedRootCertificate"])
        obj["file"] = os.path.basename(path)
        profiles.append(obj)
    with open(os.path.join(folder, "oma-uri.json"), encoding="utf-8") as f:
        custom = json.load(f)
    for setting in custom["omaSettings"]:
        setting["value"] = b64_hex(setting["value"])
    return {"profiles": profiles, "custom": custom}


def ansible(bundle):
    folder = os.path.join(bundle, "ansible")
    if not os.path.isdir(folder):
        return None
    plays = {}
    for name in ("trust", "remove"):
        with open(os.path.join(folder, name + ".yml"), encoding="utf-8") as f:
            doc = yaml.load(f, Loader=AnsibleLoader)
        if not isinstance(doc, list) or len(doc) != 1:
            raise SystemExit(name + ".yml: expected a list of one play")
        plays[name] = doc[0]
    return plays


def main():
    bundle = sys.argv[1]
    print(json.dumps({"macos": macos(bundle), "intune": intune(bundle), "ansible": ansible(bundle)}))


if __name__ == "__main__":
    main()
