"""Would translating committed prefixes at clause boundaries show translated captions sooner? Reads the
source-caption JSONL of a run paced in real time (``rtvoice caption FILE --realtime --jsonl OUT``) and, for
each segment, finds the partials whose committed text first ends at a clause boundary (, ; : . ? !) with
words still to come: that prefix could have been translated then instead of with the final. Prints how
many words that covers and how much sooner (s, the final's emission minus the partial's) they would show.

    PYTHONPATH=. python scripts/clause_boundaries.py captions.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
import statistics

CLAUSE_END = re.compile(r"[,;:.?!]$")


def clause_gains(events: list[dict]) -> tuple[int, int, list[float]]:
    """(words in finals, words in earlier clause prefixes, seconds sooner for each prefix)."""
    finals = {e["segment"]: e for e in events if e["kind"] == "final"}
    total, covered, gains = 0, 0, []
    for segment, final in finals.items():
        final_words = len(final["text"].split())
        total += final_words
        shown = 0
        for event in events:
            if event["segment"] != segment or event["kind"] != "partial":
                continue
            committed = event["committed"].strip()
            words = len(committed.split())
            if committed and CLAUSE_END.search(committed) and shown < words < final_words:
                covered += words - shown
                gains.append(final["emitted_at"] - event["emitted_at"])
                shown = words
    return total, covered, gains


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("jsonl", help="source captions of a real-time run (rtvoice caption --realtime --jsonl)")
    args = parser.parse_args()
    with open(args.jsonl, encoding="utf-8") as f:
        events = [json.loads(line) for line in f if line.strip()]
    total, covered, gains = clause_gains(events)
    sooner = f"p50 {statistics.median(gains):.2f} s, max {max(gains):.2f} s" if gains else "-"
    print(f"{total} words in finals; {len(gains)} clause prefixes before their final cover {covered} words "
          f"({covered / max(total, 1):.0%}), shown sooner by {sooner}")


if __name__ == "__main__":
    main()
