"""Caption outputs: terminal, SRT, WebVTT and JSONL writers, flushed at each final, and the fan-out that
feeds several of them from one stream of caption events."""
