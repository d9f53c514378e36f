"""Summarise dieharder result files (as written by `... | dieharder -g 200 -a > FILE`).

    python tools/dieharder_summary.py dh_ids.txt dh_epochs.txt dh_mixed.txt

Prints, per file, the counts of PASSED / WEAK / FAILED assessments and every
line that is not PASSED, as Markdown for docs/QUALITY.md.
"""

from __future__ import annotations

import sys
from pathlib import Path


def summarise(path: Path) -> str:
    rows = [line for line in path.read_text().splitlines() if line.count("|") >= 5]
    rows = [r for r in rows if r.strip().split("|")[-1].strip() in ("PASSED", "WEAK", "FAILED")]
    counts = {k: sum(1 for r in rows if r.rstrip().endswith(k)) for k in ("PASSED", "WEAK", "FAILED")}
    out = [f"**{path.stem}**: {len(rows)} assessments — {counts['PASSED']} passed, {counts['WEAK']} weak, "
           f"{counts['FAILED']} failed."]
    odd = [r for r in rows if not r.rstrip().endswith("PASSED")]
    if odd:
        out.append("")
        out.append("```")
        out.extend(r.rstrip() for r in odd)
        out.append("```")
    return "\n".join(out)


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(f"usage: {sys.argv[0]} FILE [FILE ...]")
    print("\n\n".join(summarise(Path(p)) for p in sys.argv[1:]))


if __name__ == "__main__":
    main()
