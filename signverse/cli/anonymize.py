"""``signverse anonymize SRC DST``: put every signer on one canonical skeleton."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "anonymize", help="retarget every sequence to a canonical skeleton (privacy)",
        description="Keep joint angles over time, hand shapes and facial movement; replace body "
                    "and hand bone lengths by the population mean of SRC, the face shape by the "
                    "mean face (expressions kept), the usual direction of the head, shoulders and "
                    "lower body by the population's, and the placement in the frame by the mean. "
                    "DST is the same kind as SRC (pose file, folder, release, corpus, OpenPose "
                    "JSON, ISLR npz folder). Missing points stay missing.")
    p.add_argument("src", metavar="SRC")
    p.add_argument("dst", metavar="DST")
    # one list of methods, one default, one set of per-method settings
    from signverse.ops.anonymize import DEFAULT_METHOD, METHOD_QUIET, METHOD_SPACE, METHODS
    p.add_argument("--method", default=DEFAULT_METHOD, choices=METHODS,
                   help=f"(default {DEFAULT_METHOD}) "
                        "canonical-quiet: canonical-space with the head's, shoulders' and lower "
                        "body's movement around their usual direction and the facial expression "
                        "quietened (see --rest-motion, --expression); "
                        "canonical-space: canonical-dominant, then per sequence each "
                        "hand's path moved and stretched by seeded random amounts and the hand "
                        "turned about its wrist (see --shift, --amplitude, --hand-turn), the arm "
                        "re-solved with its bone lengths kept; "
                        "canonical-dominant: canonical-tempo, each sequence mirrored "
                        "when its left hand leads (the dominant hand always in the right-hand "
                        "slots) and every bone turned by a seeded random angle per sequence (10 "
                        "degrees, see --rotate); canonical-tempo: the skeleton, then tracking jitter (1/6 s "
                        "low-pass) and the signer's tempo (constant speed along the same path) "
                        "removed; canonical: the skeleton only, timing untouched")
    p.add_argument("--jitter", type=float, default=0.0, metavar="F",
                   help="per-sequence random scaling of bone lengths and placement, e.g. 0.05")
    p.add_argument("--rotate", type=float, default=None, metavar="DEG",
                   help="per-sequence constant random turn of every bone, in degrees (default: "
                        "10 for canonical-quiet, canonical-space and canonical-dominant, 0 for "
                        "the others)")
    p.add_argument("--shift", type=float, default=None, metavar="SW",
                   help="per-sequence random offset of each hand's path in shoulder widths, the arm "
                        f"re-solved (default: {METHOD_SPACE['canonical-quiet'][0]:g} for canonical-quiet, "
                        f"{METHOD_SPACE['canonical-space'][0]:g} for canonical-space, 0 for the others)")
    p.add_argument("--amplitude", type=float, default=None, metavar="F",
                   help="per-sequence random scaling of each hand's movement in x and y, "
                        f"exp(N(0, F)) (default: {METHOD_SPACE['canonical-quiet'][1]:g} for canonical-quiet, "
                        f"{METHOD_SPACE['canonical-space'][1]:g} for canonical-space, 0 for the others)")
    p.add_argument("--hand-turn", type=float, default=None, metavar="DEG",
                   help="per-sequence random turn of each whole hand about its wrist, degrees "
                        f"(default: {METHOD_SPACE['canonical-quiet'][2]:g} for canonical-quiet, "
                        f"{METHOD_SPACE['canonical-space'][2]:g} for canonical-space, 0 for the others)")
    p.add_argument("--expression", type=float, default=None, metavar="F",
                   help="fraction of each sequence's facial expression kept, 0-1 (default: "
                        f"{METHOD_QUIET['canonical-quiet'][0]:g} for canonical-quiet, 1 for the others)")
    p.add_argument("--rest-motion", type=float, default=None, metavar="F",
                   help="fraction of the head's, shoulders' and lower body's movement around their "
                        "usual direction kept, 0-1 (default: "
                        f"{METHOD_QUIET['canonical-quiet'][1]:g} for canonical-quiet, 1 for the others)")
    p.add_argument("--seed", type=int, default=0, help="seed of the per-sequence randomisation")
    p.add_argument("--canonical", metavar="JSON", help="use this saved canonical skeleton")
    p.add_argument("--save-canonical", metavar="JSON", help="save the canonical skeleton here")
    p.set_defaults(handler=run)


def run(args) -> int:
    import sys

    from signverse.io.anonymize import anonymize_path
    report = anonymize_path(args.src, args.dst, method=args.method, jitter=args.jitter,
                            rotate=args.rotate, seed=args.seed, shift=args.shift,
                            amplitude=args.amplitude, hand_turn=args.hand_turn,
                            expression=args.expression, rest_motion=args.rest_motion,
                            canonical=args.canonical,
                            save_canonical=args.save_canonical)
    print(f"anonymised {report.sequences} sequence(s) into {len(report.written)} output(s) in {args.dst}")
    for failure in report.failures:
        print(f"FAILED {failure.name}: {failure.reason}", file=sys.stderr)
    return 1 if report.failures else 0
