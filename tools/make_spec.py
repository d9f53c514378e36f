"""Rewrite docs/SPEC.md section 5.2 (every built-in kind's program) from the kinds' definitions.

    python tools/make_spec.py            # rewrite the generated block
    python tools/make_spec.py --check    # exit 1 if it is stale (tests/dpa/test_specdoc.py does the same)

The block lies between the markers of :mod:`dpa.specdoc`; everything else in
the file is left as it is.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from dpa.specdoc import kind_section, replace_section

SPEC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "SPEC.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the block is up to date")
    args = parser.parse_args(argv)
    text = SPEC.read_text(encoding="utf-8")
    new = replace_section(text, kind_section())
    if args.check:
        if new != text:
            print(f"{SPEC} section 5.2 is stale: run python tools/make_spec.py", file=sys.stderr)
            return 1
        return 0
    SPEC.write_text(new, encoding="utf-8")
    print(f"wrote {SPEC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
