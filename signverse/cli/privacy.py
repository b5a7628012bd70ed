"""``signverse privacy audit DATA``: how well poses re-identify their signers."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("privacy", help="measure signer re-identification risk")
    inner = p.add_subparsers(dest="privacy_command", metavar="SUBCOMMAND")
    a = inner.add_parser(
        "audit", help="re-identification top-1 on raw, normalized and anonymized data",
        description="Trains a signer re-identification probe on some of each signer's sequences "
                    "and tests it on the others (ridge classifiers and cosine nearest neighbour, "
                    "the better reported), on the raw, normalised (neck-centred, shoulder-scaled) "
                    "and anonymised (signverse anonymize) versions of DATA; plus a bone-length "
                    "fingerprint probe. DATA: any source `signverse train` reads with signer ids.")
    a.add_argument("data", metavar="DATA")
    a.add_argument("--json", action="store_true", help="print the result as JSON")
    a.add_argument("--figure", metavar="PNG", help="write the bone-length fingerprint figure here")
    from signverse.ops.anonymize import DEFAULT_METHOD, METHODS
    a.add_argument("--method", default=DEFAULT_METHOD, choices=METHODS,
                   help="anonymisation method (see anonymize)")
    a.add_argument("--jitter", type=float, default=0.0, help="anonymisation jitter (see anonymize)")
    a.add_argument("--rotate", type=float, default=None,
                   help="anonymisation rotation, degrees (default: the method's, see anonymize)")
    a.add_argument("--shift", type=float, default=None,
                   help="anonymisation signing-space shift, shoulder widths (see anonymize)")
    a.add_argument("--amplitude", type=float, default=None,
                   help="anonymisation movement-amplitude randomisation (see anonymize)")
    a.add_argument("--hand-turn", type=float, default=None,
                   help="anonymisation hand turn, degrees (see anonymize)")
    a.add_argument("--expression", type=float, default=None,
                   help="fraction of facial expression kept (see anonymize)")
    a.add_argument("--rest-motion", type=float, default=None,
                   help="fraction of head, shoulder and lower-body movement kept (see anonymize)")
    a.set_defaults(handler=run)
    p.set_defaults(handler=lambda args: (p.print_help(), 2)[1])


def run(args) -> int:
    from signverse.core.errors import InputError, SignverseError
    from signverse.core.jsonio import dumps as json_dumps
    from signverse.tasks.privacy import audit, load_audit_data
    data = load_audit_data(args.data)
    try:
        result = audit(data, method=args.method, jitter=args.jitter, rotate=args.rotate,
                       shift=args.shift, amplitude=args.amplitude, hand_turn=args.hand_turn,
                       expression=args.expression, rest_motion=args.rest_motion,
                       figure=args.figure)
    except InputError:
        raise
    except SignverseError as exc:
        raise InputError(args.data, str(exc)) from None
    if args.json:
        print(json_dumps(result, indent=1))
        return 0
    print(f"{result['n_sequences']} sequences of {result['n_signers']} signers; chance "
          f"{result['chance']}")
    for version, value in result["reid_top1"].items():
        print(f"  re-identification top-1, {version:<10}: {value}")
    for version, value in result["fingerprint_top1"].items():
        print(f"  bone-length fingerprint top-1, {version:<10}: {value}")
    if "figure" in result:
        print(f"  figure: {result['figure']}")
    return 0
