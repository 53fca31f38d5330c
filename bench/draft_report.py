"""The draft bench's results: one draft's outcome, and the table that compares writers."""

from __future__ import annotations

from dataclasses import dataclass, field

from draft_scoring import CHECKS, CheckResult


@dataclass
class Outcome:
    """One draft: who wrote it, how long it took, its text and its checks."""

    lead: str
    writer: str
    wrote: str = ""
    fallback_reason: str | None = None
    writer_ms: float | None = None
    total_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    error: str | None = None
    subject: str = ""
    text: str = ""
    checks: list[CheckResult] = field(default_factory=list)


def _pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def _cell(outcomes: list[Outcome], check: str) -> str:
    verdicts = [c.passed for o in outcomes for c in o.checks if c.check == check]
    applicable = [v for v in verdicts if v is not None]
    return f"{sum(applicable)}/{len(applicable)}"


def report(results: dict[str, list[Outcome]], wall: float, target: str) -> None:
    """The table, the latency and token split, then every failure by lead and check."""
    names = list(results)
    count = len(next(iter(results.values()))) if results else 0
    print(f"Drafts bench: {count} leads, {target}, {wall:.1f} s")
    print(f"{'check':<22}" + "".join(f"{n:>16}" for n in names))
    for check in CHECKS:
        print(f"{check:<22}" + "".join(f"{_cell(results[n], check):>16}" for n in names))
    rows: list[tuple[str, list[str]]] = []
    for name in names:
        outcomes = results[name]
        clean = sum(all(c.passed is not False for c in o.checks) for o in outcomes)
        fallbacks = sum(1 for o in outcomes if o.fallback_reason)
        writer_ms = [o.writer_ms for o in outcomes if o.writer_ms is not None]
        total_ms = [o.total_ms for o in outcomes]
        tokens_in = sum(o.input_tokens for o in outcomes)
        tokens_out = sum(o.output_tokens for o in outcomes)
        rows.append(
            (
                name,
                [
                    f"{clean}/{len(outcomes)}",
                    str(fallbacks),
                    f"{_pct(writer_ms, 0.5):.1f}/{_pct(writer_ms, 0.95):.1f}",
                    f"{_pct(total_ms, 0.5):.1f}/{_pct(total_ms, 0.95):.1f}",
                    f"{tokens_in}/{tokens_out}",
                ],
            )
        )
    labels = ("all checks passed", "fallbacks", "writer ms p50/p95", "draft ms p50/p95")
    for index, label in enumerate((*labels, "tokens in/out")):
        print(f"{label:<22}" + "".join(f"{row[1][index]:>16}" for row in rows))
    print("\nFailures (writer, lead, check: detail)")
    for name in names:
        for o in results[name]:
            if o.error:
                print(f"  {name:<10} {o.lead:<28} crash: {o.error}")
                continue
            for c in o.checks:
                if c.passed is False:
                    print(f"  {name:<10} {o.lead:<28} {c.check}: {c.detail}")
            if o.fallback_reason:
                print(f"  {name:<10} {o.lead:<28} (fell back: {o.fallback_reason[:90]})")
