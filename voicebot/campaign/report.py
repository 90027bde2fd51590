"""``campaign report``: one self-contained HTML page with the campaign's charts.

Charts are drawn with matplotlib's Agg backend (no display needed) and embedded as PNG data
URIs: answer rate by attempt result, contacts by outcome, attempts per contact, handle time,
turn latency and MOS.
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from voicebot.errors import DependencyError

if TYPE_CHECKING:
    from voicebot.campaign.settings import Campaign


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise DependencyError("campaign report needs matplotlib: pip install matplotlib") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def _bars(plt: Any, title: str, counts: dict[str, int], xlabel: str = "") -> str:
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    if counts:
        ax.barh(list(counts)[::-1], list(counts.values())[::-1], color="#4c72b0")
    else:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    out = _png(fig)
    plt.close(fig)
    return out


def _hist(plt: Any, title: str, values: Sequence[float], xlabel: str, bins: int = 20) -> str:
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    if values:
        ax.hist(values, bins=bins, color="#55a868")
    else:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    out = _png(fig)
    plt.close(fig)
    return out


def charts(results: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Chart title -> base64 PNG."""
    plt = _pyplot()
    attempts = [a for r in results for a in r["attempts"]]
    kinds = Counter(a["kind"] or "in flight" for a in attempts)
    answered = kinds.get("answered", 0)
    rate = f"{100 * answered / len(attempts):.0f} %" if attempts else "–"
    outcomes = Counter(f"{r['status']}: {r['outcome'] or '–'}" for r in results)
    per_contact = Counter(str(r["attempt_count"]) for r in results)
    handle = [a["talk_s"] for a in attempts if a["kind"] == "answered" and a["talk_s"] is not None]
    latency = [1000 * t["latency_s"] for r in results for t in r["transcript"] if t.get("latency_s") is not None]
    mos = [a["mos"] for a in attempts if a["mos"] is not None]
    return {
        f"Answer rate: {rate} of {len(attempts)} calls": _bars(plt, "Calls by result", dict(kinds.most_common()),
                                                                "calls"),
        "Outcomes": _bars(plt, "Contacts by status and outcome", dict(outcomes.most_common()), "contacts"),
        "Attempts per contact": _bars(plt, "Attempts per contact", dict(sorted(per_contact.items())), "contacts"),
        "Handle time": _hist(plt, "Talk time of answered calls", handle, "seconds"),
        "Turn latency": _hist(plt, "Bot turn latency", latency, "ms"),
        "MOS": _hist(plt, "Estimated MOS of answered calls", mos, "MOS", bins=10),
    }


def render(campaign: Campaign, counts: dict[str, Any], results: Sequence[dict[str, Any]]) -> str:
    e = html.escape
    rows = "".join(f"<tr><td>{e(k)}</td><td>{v}</td></tr>" for k, v in counts["status"].items())
    figures = "".join(
        f'<figure><figcaption>{e(title)}</figcaption><img alt="{e(title)}" src="data:image/png;base64,{png}"></figure>'
        for title, png in charts(results).items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Campaign {e(campaign.name)}</title>
<style>body{{font-family:sans-serif;margin:2em}} figure{{display:inline-block;margin:1em}}
table{{border-collapse:collapse}} td{{border:1px solid #ccc;padding:2px 8px}}</style></head>
<body><h1>Campaign {e(campaign.name)}</h1>
<p>Flow {e(campaign.flow_path)}; window {campaign.window} callee time; {counts['attempts']} calls placed,
{counts['final']} of {counts['contacts']} contacts final.</p>
<table><tr><th>status</th><th>contacts</th></tr>{rows}</table>
{figures}
</body></html>
"""
