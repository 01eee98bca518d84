"""Turn pytest-benchmark JSON into a markdown table of ratios against the peers of each group.

Usage: python -m bench.report bench/results/latest.json [bench/results/latest.md]
"""

from __future__ import annotations

import json
import platform
import sys
from collections import defaultdict
from pathlib import Path


def _fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def render(data: dict) -> str:
    groups: dict[str, list[dict]] = defaultdict(list)
    for bench in data["benchmarks"]:
        groups[bench.get("group") or bench["name"]].append(bench)
    machine = data.get("machine_info", {})
    lines = [
        "# rtvoice benchmark ratios",
        "",
        f"Machine: {machine.get('cpu', {}).get('brand_raw', platform.processor() or 'unknown CPU')}, "
        f"{machine.get('cpu', {}).get('count', '?')} cores, Python {machine.get('python_version', '?')}; "
        f"run {data.get('datetime', '?')}.",
        "Ratio = peer median / rtvoice median (> 1: rtvoice is faster).",
        "",
        "| group | implementation | median | ratio vs rtvoice | notes |",
        "|---|---|---|---|---|",
    ]
    for group, benches in sorted(groups.items()):
        ours = [b for b in benches if b.get("extra_info", {}).get("impl") == "rtvoice"]
        base = ours[0]["stats"]["median"] if ours else None
        for b in sorted(benches, key=lambda b: b.get("extra_info", {}).get("impl") != "rtvoice"):
            info = dict(b.get("extra_info", {}))
            impl = info.pop("impl", b["name"])
            median = b["stats"]["median"]
            ratio = "—" if base is None or impl == "rtvoice" else f"{median / base:.2f}×"
            notes = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items())
            lines.append(f"| {group} | {impl} | {_fmt_time(median)} | {ratio} | {notes} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    table = render(json.loads(Path(argv[0]).read_text()))
    print(table)
    if len(argv) > 1:
        Path(argv[1]).write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
