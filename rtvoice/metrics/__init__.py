"""Measurement: caption latency accounting, percentiles and bounded reservoirs, latency budgets, the
virtual clock, and the English text normalisation used to score word error rates."""
