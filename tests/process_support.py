"""Child processes seen from outside, for the tests that kill or count them (scanned from /proc)."""

from __future__ import annotations

from pathlib import Path


def children(parent: int, command_part: bytes) -> list[int]:
    """Pids of the live (not zombie) processes whose parent is `parent` and whose command line holds
    `command_part`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, ...
        if int(fields[1]) == parent and fields[0] != "Z" and command_part in command:
            found.append(int(entry.name))
    return found
