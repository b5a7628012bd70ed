"""Statistics of a manifest (videos per sign language) or a corpus store (videos, clips, hours, QC).

Both give plain dicts (``--json``), a text table and, with matplotlib, a PNG of the language
distribution (and, for a corpus, hours per language and the QC distributions).

>>> from signverse.core import VideoRecord
>>> from signverse.pipeline.inputs import Manifest
>>> s = manifest_stats(Manifest([VideoRecord("a", sign_language="ase"), VideoRecord("b", sign_language="???")]))
>>> s["videos"], s["languages"]["ase"]["videos"], s["nonstandard_labels"]
(2, 1, {'???': 1})
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from signverse.core.errors import require
from signverse.pipeline.inputs import Manifest, is_iso639_3


def manifest_stats(manifest: Manifest) -> dict[str, Any]:
    """Videos per sign-language label (largest first), with non-ISO-639-3 labels flagged."""
    counts = manifest.languages()
    total = sum(counts.values())
    languages = {lang: {"videos": n, "share": n / total if total else 0.0, "iso639_3": is_iso639_3(lang)}
                 for lang, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}
    splits: dict[str, int] = {}
    for r in manifest.records:
        splits[r.split or "none"] = splits.get(r.split or "none", 0) + 1
    return {"kind": "manifest", "source": manifest.source, "videos": total,
            "n_languages": len(languages), "languages": languages, "splits": splits,
            "nonstandard_labels": {k: e["videos"] for k, e in languages.items()
                                   if not e["iso639_3"] and k != "unknown"},
            "warnings": list(manifest.warnings)}


def corpus_stats(path: str | Path) -> dict[str, Any]:
    """The corpus summary (per language videos/clips/hours, QC distributions) plus ledger counts."""
    from signverse.io.corpus import open_corpus
    from signverse.pipeline.ledger import LEDGER_NAME, Ledger
    path = Path(path)
    summary = open_corpus(path).summary()
    out: dict[str, Any] = {"kind": "corpus", "source": str(path), **summary}
    out["n_languages"] = len(summary.get("languages", {}))
    for lang, entry in out.get("languages", {}).items():
        entry["iso639_3"] = is_iso639_3(lang)
    if (path / LEDGER_NAME).is_file():
        with Ledger(path, create=False) as ledger:
            out["ledger"] = ledger.counts()
    return out


def format_table(stats: dict[str, Any], *, top: int | None = None) -> str:
    """A fixed-width text table of the per-language figures and (corpus) QC distributions."""
    langs = stats["languages"]
    items = sorted(langs.items(), key=lambda kv: (-kv[1].get("videos", 0), kv[0]))
    shown = items if top is None else items[:top]
    lines = []
    if stats["kind"] == "manifest":
        lines.append(f"{stats['source']}: {stats['videos']} videos, {stats['n_languages']} sign-language labels")
        lines.append(f"{'language':<12}{'videos':>9}{'share':>9}")
        for lang, e in shown:
            flag = "" if e["iso639_3"] else "  (not ISO 639-3)"
            lines.append(f"{lang:<12}{e['videos']:>9}{100 * e['share']:>8.2f}%{flag}")
    else:
        lines.append(f"{stats['source']}: {stats['videos']} videos, {stats['clips']} clips, "
                     f"{stats['hours']:.2f} h, {stats['frames']} frames, {stats['n_languages']} languages")
        if "ledger" in stats:
            c = stats["ledger"]
            lines.append(f"ledger: {c.get('done', 0)} done, {c.get('failed', 0)} failed, "
                         f"{c.get('pending', 0) + c.get('running', 0)} pending")
        lines.append(f"{'language':<12}{'videos':>9}{'clips':>10}{'hours':>10}")
        for lang, e in shown:
            flag = "" if e["iso639_3"] else "  (not ISO 639-3)"
            lines.append(f"{lang:<12}{e['videos']:>9}{e['clips']:>10}{e['hours']:>10.3f}{flag}")
    if len(shown) < len(items):
        rest = items[len(shown):]
        lines.append(f"{'(other)':<12}{sum(e['videos'] for _, e in rest):>9}   ({len(rest)} more labels)")
    if stats["kind"] == "corpus":
        lines.append("")
        lines.append(f"{'qc':<20}{'mean':>8}{'p05':>8}{'p50':>8}{'p95':>8}")
        for name, d in stats.get("qc", {}).items():
            if d.get("count"):
                lines.append(f"{name:<20}{d['mean']:>8.3f}{d['p05']:>8.3f}{d['p50']:>8.3f}{d['p95']:>8.3f}")
        d = stats.get("clip_seconds", {})
        if d.get("count"):
            lines.append(f"{'clip seconds':<20}{d['mean']:>8.2f}{d['p05']:>8.2f}{d['p50']:>8.2f}{d['p95']:>8.2f}")
    if stats.get("nonstandard_labels"):
        labels = ", ".join(f"{k} ({v})" for k, v in stats["nonstandard_labels"].items())
        lines.append(f"labels kept as given, not ISO 639-3: {labels}")
    return "\n".join(lines)


def plot_stats(stats: dict[str, Any], png: str | Path, *, top: int = 60,
               corpus_path: str | Path | None = None) -> Path:
    """Write a PNG: videos per language (top ``top``), and for a corpus hours per language and QC."""
    require("matplotlib", "plot")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    langs = sorted(stats["languages"].items(), key=lambda kv: (-kv[1].get("videos", 0), kv[0]))[:top]
    names = [k for k, _ in langs]
    qc_values: dict[str, np.ndarray] = {}
    if stats["kind"] == "corpus" and corpus_path is not None:
        from signverse.io.corpus import open_corpus
        from signverse.io.corpus.schema import QC_FIELDS
        table = open_corpus(corpus_path).metadata([f"qc_{n}" for n in QC_FIELDS])
        for n in QC_FIELDS:
            values = np.asarray(table.column(f"qc_{n}").to_numpy(zero_copy_only=False), np.float64)
            qc_values[n] = values[np.isfinite(values)]
    panels = 1 if stats["kind"] == "manifest" else 2 + (1 if qc_values else 0)
    fig = plt.figure(figsize=(max(8, 0.35 * len(names) + 2), 4 * panels))
    ax = fig.add_subplot(panels, 1, 1)
    colors = ["tab:blue" if stats["languages"][k]["iso639_3"] else "tab:orange" for k in names]
    ax.bar(range(len(names)), [stats["languages"][k]["videos"] for k in names], color=colors)
    ax.set_xticks(range(len(names)), names, rotation=70, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("videos")
    ax.set_title(f"{stats['videos']} videos, {stats['n_languages']} sign-language labels "
                 "(orange: not ISO 639-3)")
    if stats["kind"] == "corpus":
        ax = fig.add_subplot(panels, 1, 2)
        ax.bar(range(len(names)), [stats["languages"][k]["hours"] for k in names], color="tab:green")
        ax.set_xticks(range(len(names)), names, rotation=70, fontsize=8)
        ax.set_ylabel("hours")
        ax.set_title(f"{stats['clips']} clips, {stats['hours']:.2f} h")
        if qc_values:
            ax = fig.add_subplot(panels, 1, 3)
            fractions = [n for n in qc_values if n.endswith("_frac") or n == "mean_conf"]
            ax.boxplot([qc_values[n] for n in fractions], tick_labels=fractions, showfliers=False)
            ax.set_ylim(-0.05, 1.05)
            ax.set_title("per-clip QC")
    fig.tight_layout()
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return png
