"""Run reports: one self-contained HTML file (tables, inline-SVG histograms, per-item drill-down) and a
terminal summary with rich.

Plain HTML and SVG need no plotting library, open offline in any browser and stay small enough to
attach to a CI job; every value is escaped, since answers and passages are untrusted text.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from llmkit.evals.runner import per_item_scores
from llmkit.evals.stats import Comparison
from llmkit.evals.store import Row, Run

if TYPE_CHECKING:
    from rich.console import Console

_CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#f4f4f4}.num{text-align:right;font-variant-numeric:tabular-nums}details{margin:.4em 0;
border:1px solid #ddd;padding:.3em .6em}pre{white-space:pre-wrap;background:#f8f8f8;padding:.5em;margin:.3em 0}
.bad{color:#b00}.good{color:#070}.plots{display:flex;flex-wrap:wrap;gap:1em}"""


def histogram_svg(values: Sequence[float], title: str, bins: int = 10, width: int = 240, height: int = 120) -> str:
    """An SVG bar chart of ``values`` over [0, 1] in ``bins`` bins.

    >>> svg = histogram_svg([0.0, 1.0, 1.0], "em")
    >>> svg.startswith("<svg") and svg.count("<rect") == 10
    True
    """
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, int(v * bins)))] += 1
    top = max(counts) or 1
    bar_w = (width - 20) / bins
    bars = []
    for i, c in enumerate(counts):
        h = (height - 40) * c / top
        x, y = 10 + i * bar_w, height - 20 - h
        bars.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" fill="#4a7ab5">'
                    f"<title>{i / bins:.1f}–{(i + 1) / bins:.1f}: {c}</title></rect>")  # fmt: skip
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">'
        f'<text x="10" y="14" font-size="12">{escape(title)} (n={len(values)})</text>{"".join(bars)}'
        f'<text x="10" y="{height - 5}" font-size="10">0</text>'
        f'<text x="{width - 16}" y="{height - 5}" font-size="10">1</text></svg>'
    )


def _summary_table(run: Run) -> str:
    rows = "".join(
        f"<tr><td>{escape(m)}</td><td class=num>{s['mean']:.4f}</td><td class=num>[{s['low']:.4f}, {s['high']:.4f}]"
        f"</td><td class=num>{s['n']}</td></tr>"
        for m, s in run.summary.items()
    )
    return f"<table><tr><th>metric</th><th>mean</th><th>95% CI (bootstrap)</th><th>items</th></tr>{rows}</table>"


def _comparison_table(comparisons: Sequence[Comparison], base: str) -> str:
    rows = []
    for c in comparisons:
        cls = "good" if c.significant and c.delta > 0 else "bad" if c.significant else ""
        rows.append(
            f"<tr><td>{escape(c.metric)}</td><td class=num>{c.a:.4f}</td><td class=num>{c.b:.4f}</td>"
            f"<td class='num {cls}'>{c.delta:+.4f}</td><td class=num>[{c.low:+.4f}, {c.high:+.4f}]</td>"
            f"<td class=num>{c.p_value:.3g}</td><td>{'yes' if c.significant else 'no'}</td></tr>"
        )
    head = "<tr><th>metric</th><th>base</th><th>this</th><th>delta</th><th>95% CI</th><th>p</th><th>significant</th>"
    return f"<h2>Against {escape(base)}</h2><table>{head}</tr>{''.join(rows)}</table>"


def _item_html(row: Row) -> str:
    p = row.prediction
    scores = ", ".join(f"{k}={'–' if v is None else f'{v:.3g}'}" for k, v in row.metrics.items())
    parts = [f"<summary><b>{escape(row.item_id)}</b> #{row.repeat} · {escape(scores)} · "
             f"{escape(p.get('input', '')[:100])}</summary>"]  # fmt: skip
    for m in p.get("messages", []):
        parts.append(f"<div><i>{escape(m.get('role', ''))}</i><pre>{escape(m.get('content', ''))}</pre></div>")
    for i, (pid, text) in enumerate(zip(p.get("hit_ids", []), p.get("passages", []), strict=False), 1):
        parts.append(f"<div>passage [{i}] {escape(str(pid))}<pre>{escape(text)}</pre></div>")
    parts.append(f"<div><b>answer</b><pre>{escape(p.get('answer', ''))}</pre></div>")
    for metric, why in row.details.items():
        parts.append(f"<div><b>judge: {escape(metric)}</b><pre>{escape(why)}</pre></div>")
    return f"<details>{''.join(parts)}</details>"


def html_report(run: Run, rows: Sequence[Row], comparisons: Sequence[Comparison] = (), base: Run | None = None) -> str:
    """The whole report as one HTML document."""
    scores = per_item_scores(rows, list(run.summary))
    plots = "".join(histogram_svg(list(v.values()), m) for m, v in scores.items())
    st = run.stats
    meta = (
        f"<p>{escape(run.name)} · {run.items} items · dataset {escape(run.dataset)} · "
        f"prompts {escape(', '.join(f'{k}={v}' for k, v in run.prompts.items()) or '–')} · "
        f"models {escape(', '.join(f'{k}={v}' for k, v in run.models.items()) or '–')}<br>"
        f"{st.get('seconds', 0):.1f} s, of which model calls {st.get('model_seconds', 0):.1f} s "
        f"({int(st.get('calls', 0))} calls, {int(st.get('cache_hits', 0))} from cache, "
        f"{int(st.get('errors', 0))} failed)</p>"
    )
    compare = _comparison_table(comparisons, base.id if base else "base") if comparisons else ""
    items = "".join(_item_html(r) for r in rows)
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>eval {escape(run.id)}</title><style>{_CSS}</style>"
        f"</head><body><h1>Eval run {escape(run.id)}</h1>{meta}{_summary_table(run)}{compare}"
        f"<h2>Score distributions</h2><div class=plots>{plots}</div><h2>Items</h2>{items}</body></html>"
    )


def print_summary(run: Run, console: Console, comparisons: Sequence[Comparison] = ()) -> None:
    """The terminal summary: every metric with its interval, then the comparison if there is one.

    Names, prompts and models are the user's text, printed as it is (never read as rich markup).
    """
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    table = Table("metric", "mean", "95% CI", "n", title=Text(f"{run.name} · run {run.id}"))
    for m, s in run.summary.items():
        table.add_row(Text(m), f"{s['mean']:.4f}", Text(f"[{s['low']:.4f}, {s['high']:.4f}]"), str(s["n"]))
    console.print(table)
    st = run.stats
    errors = int(st.get("errors", 0))
    console.print(
        f"[dim]{run.items} items · {st.get('seconds', 0):.1f} s (model {st.get('model_seconds', 0):.1f} s, "
        f"{int(st.get('calls', 0))} calls, {int(st.get('cache_hits', 0))} cached"
        f"{f', {errors} failed' if errors else ''}) · prompts "
        f"{escape(', '.join(run.prompts.values()) or '–')} · models {escape(', '.join(run.models.values()) or '–')}[/]"
    )
    if comparisons:
        print_comparison(comparisons, console)


def print_comparison(comparisons: Sequence[Comparison], console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table("metric", "A", "B", "delta", "95% CI", "p", "significant", title="B − A (paired bootstrap)")
    for c in comparisons:
        style = ("green" if c.delta > 0 else "red") if c.significant else ""
        table.add_row(
            Text(c.metric), f"{c.a:.4f}", f"{c.b:.4f}", Text(f"{c.delta:+.4f}", style=style),
            Text(f"[{c.low:+.4f}, {c.high:+.4f}]"), f"{c.p_value:.3g}", "yes" if c.significant else "no",
        )  # fmt: skip
    console.print(table)
