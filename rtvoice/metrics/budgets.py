"""Latency budgets and regression checks for ``rtvoice bench`` (CI gates).

A report is a flat mapping of figure names to numbers, e.g. ``caption_final_p95_s``. Budgets name a figure
without its unit suffix and give a limit with a unit::

    caption_final_p95=1.0s,tts_first_audio_p50=150ms,wer=8%,underruns=0

Units: ``s``, ``ms``, ``us`` (durations, compared with the ``<name>_s`` figure), ``%`` (ratios such as WER,
compared with the plain figure as a fraction), or none (counts). A budget is met when the figure is
<= its limit. Budgets may also come from a TOML file (``--budget-file``)::

    [budgets]
    caption_final_p95 = "1.0s"
    tts_first_audio_p50 = "150ms"
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from rtvoice.errors import RtvoiceError

_UNIT_SCALE = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "%": 0.01, "": 1.0}
_SPEC = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|=)\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(s|ms|us|µs|%)?\s*$")


class BudgetError(RtvoiceError, ValueError):
    """A budget that cannot be parsed or names a figure the report does not have."""


@dataclass(frozen=True)
class Budget:
    name: str     # figure name as written by the user, without unit suffix
    limit: float  # in base units: seconds for durations, fraction for %, count otherwise
    unit: str     # as written

    @property
    def figure(self) -> str:
        """The report key this budget is compared with."""
        return f"{self.name}_s" if self.unit in ("s", "ms", "us", "µs") else self.name

    def describe_limit(self) -> str:
        return f"{self.limit / _UNIT_SCALE[self.unit]:g}{self.unit}"


@dataclass(frozen=True)
class BudgetResult:
    budget: Budget
    value: float

    @property
    def met(self) -> bool:
        return not math.isnan(self.value) and self.value <= self.budget.limit

    def describe(self) -> str:
        shown = self.value / _UNIT_SCALE[self.budget.unit]
        verdict = "ok" if self.met else "EXCEEDED"
        return f"{self.budget.name}: {shown:.4g}{self.budget.unit} (budget {self.budget.describe_limit()}) {verdict}"


def parse_budget(spec: str) -> Budget:
    match = _SPEC.match(spec)
    if not match:
        raise BudgetError(f"bad budget {spec!r}: expected NAME=VALUE[s|ms|us|%], e.g. caption_final_p95=1.0s")
    name, _, value, unit = match.groups()
    unit = unit or ""
    return Budget(name, float(value) * _UNIT_SCALE[unit], unit)


def parse_budgets(text: str) -> list[Budget]:
    """Comma-separated budgets; an empty string gives none."""
    return [parse_budget(part) for part in text.split(",") if part.strip()]


def load_budget_file(path: Path) -> list[Budget]:
    import tomllib

    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError as error:
        raise BudgetError(f"budget file {path} not found") from error
    except tomllib.TOMLDecodeError as error:
        raise BudgetError(f"budget file {path} is not valid TOML: {error}") from error
    table = data.get("budgets")
    if not isinstance(table, dict):
        raise BudgetError(f"budget file {path} needs a [budgets] table")
    return [parse_budget(f"{name}={value}") for name, value in table.items()]


def check_budgets(report: dict[str, float], budgets: list[Budget]) -> list[BudgetResult]:
    results = []
    for budget in budgets:
        if budget.figure not in report:
            known = ", ".join(sorted(k for k, v in report.items() if isinstance(v, (int, float))))
            raise BudgetError(f"budget {budget.name!r}: the report has no figure {budget.figure!r} (figures: {known})")
        value = report[budget.figure]  # None: not measured in this run (fails the budget, shown as nan)
        results.append(BudgetResult(budget, math.nan if value is None else float(value)))
    return results


@dataclass(frozen=True)
class Change:
    figure: str
    old: float
    new: float

    @property
    def relative(self) -> float:
        if self.old == 0:
            return 0.0 if self.new == 0 else math.inf
        return (self.new - self.old) / abs(self.old)


def parse_regression(text: str) -> float:
    """'10%' or '0.1' -> 0.1."""
    text = text.strip()
    try:
        return float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError as error:
        raise BudgetError(f"bad --max-regression {text!r}: expected e.g. 10%") from error


# Figures where larger is better; every other numeric figure regresses when it grows.
HIGHER_IS_BETTER = re.compile(r"(realtime_factor|_rtf_inverse|speedup)")


def compare_reports(old: dict[str, float], new: dict[str, float]) -> list[Change]:
    return [
        Change(k, float(old[k]), float(new[k]))
        for k in sorted(set(old) & set(new))
        if isinstance(old[k], (int, float)) and isinstance(new[k], (int, float))
        and not isinstance(old[k], bool)
    ]


def regressions(changes: list[Change], max_regression: float) -> list[Change]:
    bad = []
    for change in changes:
        worse = -change.relative if HIGHER_IS_BETTER.search(change.figure) else change.relative
        if worse > max_regression:
            bad.append(change)
    return bad
