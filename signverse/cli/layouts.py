"""``signverse layouts``: list the registered skeleton layouts and the conversions between them."""
from __future__ import annotations

from signverse.core.jsonio import dumps as json_dumps


def register(sub) -> None:
    p = sub.add_parser("layouts", help="list skeleton layouts and possible conversions")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=run)


def run(args) -> int:
    from signverse.layouts import can_convert, get_layout, list_layouts
    names = list_layouts()
    rows = [dict(get_layout(n).describe(), converts_to=[m for m in names if m != n and can_convert(n, m)])
            for n in names if not n.startswith("custom-")]
    if args.json:
        print(json_dumps(rows, indent=1))
        return 0
    for row in rows:
        parts = ", ".join(f"{k} {v}" for k, v in row["components"].items())
        print(f"{row['name']:<28} {row['points']:>4} points  ({parts})")
        print(f"{'':<28} converts to: {', '.join(row['converts_to']) or '-'}")
    return 0
