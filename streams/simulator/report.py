"""Text tables of detection quality: one detector, or the engine beside the naive baseline."""

from __future__ import annotations

from streams.simulator.score import KindRecall, QualityReport, Ratio


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:5.1f}%"


def _found(row: KindRecall | None) -> str:
    if row is None or row.found is None:
        return f"{'-':>6} {'n/a':>6}"
    return f"{row.found:>6} {_pct(row.recall):>6}"


def _ratio(r: Ratio) -> str:
    return f"{_pct(r.value)} ({r.hits}/{r.total})"


def format_report(engine: QualityReport, naive: QualityReport | None = None) -> str:
    """Recall per fault kind (visible faults), precision per anomaly kind, blame and suggestion shares; with
    ``naive``, its recall in a second column and its break precision and false alarms beside the engine's."""
    names = f"{engine.detector:>13}" + (f"   {naive.detector:>13}" if naive else "")
    lines = [
        f"{'fault kind':<24} {'faults':>6} {'visible':>7}   {names}",
        f"{'':<24} {'':>6} {'':>7}   {'found recall':>13}" + (f"   {'found recall':>13}" if naive else ""),
    ]
    for row in engine.recall:
        line = f"{row.kind:<24} {row.faults:>6} {row.visible:>7}   {_found(row)}"
        if naive:
            line += f"   {_found(naive.recall_of(row.kind))}"
        if row.at_intake:
            line += f"   ({row.at_intake} at intake)"
        lines.append(line)
    lines.append("")
    lines.append(
        f"{'anomaly kind (' + engine.detector + ')':<24} {'flagged':>7} {'right':>6} {'precision':>9}"
    )
    for p in engine.precision:
        right = "-" if p.right is None else str(p.right)
        lines.append(f"{p.kind:<24} {p.flagged:>7} {right:>6} {_pct(p.precision):>9}")
    lines.append("")
    rows = [
        ("break precision", engine.breaks, naive.breaks if naive else None),
        ("blamed the right reading", engine.blame, naive.blame if naive else None),
        ("typos: right suggestion", engine.suggestion, None),
        (
            "clean vehicles flagged",
            engine.clean_vehicles_flagged,
            naive.clean_vehicles_flagged if naive else None,
        ),
        (
            "legit drops flagged",
            engine.legit_drop_vehicles_flagged,
            naive.legit_drop_vehicles_flagged if naive else None,
        ),
    ]
    for label, mine, theirs in rows:
        line = f"{label:<26} {engine.detector}: {_ratio(mine):<22}"
        if naive is not None and theirs is not None:
            line += f" {naive.detector}: {_ratio(theirs)}"
        lines.append(line.rstrip())
    if engine.breaks_on_unflagged_replacements:
        lines.append(
            f"{'':<26} ({engine.breaks_on_unflagged_replacements} {engine.detector} breaks blamed on "
            "replacements sent without the R6 tick: a rollback in the data)"
        )
    return "\n".join(lines)
