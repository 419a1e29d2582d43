#!/usr/bin/python3
"""Decode registry.pol files with Samba's PReg parser and print them as JSON.

Test-only oracle for tests/interop_build.rs (written for this project). Samba's
`samba.dcerpc.preg` is generated from its IDL and shares no code with certgpo; its
`ndr_unpack` refuses a truncated file and any bytes left over after the last entry.
Run it with the Debian python (/usr/bin/python3, package python3-samba).

Output: a JSON list, one object per file given on the command line:
  {"path", "signature", "version", "num_entries",
   "entries": [{"key", "value", "type", "data"}]}
where "data" is the value's bytes as lowercase hex, or null when the entry has none.
"""
import json
import sys

from samba.dcerpc import preg
from samba.ndr import ndr_unpack


def data_hex(data):
    if data is None:
        return None
    if isinstance(data, bytes):
        return data.hex()
    if isinstance(data, (list, tuple)):
        return bytes(data).hex()
    # Samba decodes REG_SZ / REG_DWORD into str / int; certgpo writes neither, so
    # report the Python value and let the test fail on the unexpected type.
    return repr(data)


def main(paths):
    out = []
    for path in paths:
        with open(path, "rb") as f:
            parsed = ndr_unpack(preg.file, f.read())
        out.append({
            "path": path,
            "signature": parsed.header.signature,
            "version": parsed.header.version,
            "num_entries": parsed.num_entries,
            "entries": [
                {
                    "key": e.keyname,
                    "value": e.valuename,
                    "type": e.type,
                    "data": data_hex(e.data),
                }
                for e in parsed.entries
            ],
        })
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
