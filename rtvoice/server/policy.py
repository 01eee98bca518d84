"""The server's streaming policy, apart from the server so that `rtvoice serve --help` (and every other
command, whose parsers are all built at start) need not import the web stack."""

from rtvoice.asr.streaming import StreamingConfig

# The server's streaming policy: LocalAgreement-3 without context, not the single-feed default (agreement 2,
# context "both"), because many streams share the cores and context makes every decode longer. Measured on the
# quiet 2-core machine (bench/server_capacity.py, 4 real-time streams, batching on, one run each, 14:22-14:25
# UTC): final p95 0.99 s with this policy, 1.64 s with the single-feed one (docs/server.md). `rtvoice serve --context/--agreement` choose.
# Commits at a word boundary all hypotheses show, and finals decoded at the end of speech: its capacity was
# measured that way, and the batched decodes give no token probabilities; every decode runs over the whole segment
# (no frozen committed words), as the batched capacity figures were measured.
SERVER_STREAMING = StreamingConfig(agreement=3, context="none", commit_boundary="all", prepare_finals=False,
                                   freeze_committed_s=0.0)
