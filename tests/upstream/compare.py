"""Compare a framework suite's native and durable runs, per test file.

Usage: python compare.py NATIVE.json DURABLE.json KNOWN.txt

Prints, per test file, the tests that pass natively and how many of them pass durably,
then the totals. ``KNOWN.txt`` lists the node ids (one a line, ``#`` comments; a line
ending ``/`` or naming a file covers everything below it) that pass natively and are
known not to pass durably, each under a comment giving the reason. Exits 1 when a
natively passing test that is not listed fails durably (a regression), and prints the
listed tests that now pass (so the list can shrink).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path


def _known(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _listed(node: str, known: list[str]) -> bool:
    """Whether ``node`` is listed itself, or lies in a listed folder (``dir/``), file or class."""
    return any(
        node == entry or node.startswith(entry if entry.endswith("/") else entry + "::") for entry in known
    )


def main(native_path: str, durable_path: str, known_path: str) -> int:
    native = json.loads(Path(native_path).read_text(encoding="utf-8"))
    durable = json.loads(Path(durable_path).read_text(encoding="utf-8"))
    known = _known(Path(known_path))
    passing = sorted(node for node, outcome in native.items() if outcome == "passed")
    per_file: Counter[str] = Counter()
    per_file_durable: Counter[str] = Counter()
    regressions, fixed = [], []
    for node in passing:
        path = node.split("::", 1)[0]
        per_file[path] += 1
        ok = durable.get(node) == "passed"
        per_file_durable[path] += ok
        listed = _listed(node, known)
        if not ok and not listed:
            regressions.append(node)
        elif ok and listed:
            fixed.append(node)
    width = max((len(p) for p in per_file), default=10)
    print(f"{'test file':<{width}}  native  durable")
    for path in sorted(per_file):
        print(f"{path:<{width}}  {per_file[path]:>6}  {per_file_durable[path]:>7}")
    total, total_durable = sum(per_file.values()), sum(per_file_durable.values())
    share = 100.0 * total_durable / total if total else 0.0
    print(f"{'total':<{width}}  {total:>6}  {total_durable:>7}  ({share:.1f} % of the natively passing tests)")
    print(f"tests collected: {len(native)} natively, {len(durable)} durably")
    if fixed:
        print(f"\n{len(fixed)} listed tests now pass durably; take them off {known_path}:")
        print("\n".join(f"  {node}" for node in fixed))
    if regressions:
        print(f"\n{len(regressions)} natively passing tests fail durably and are not listed in {known_path}:")
        print("\n".join(f"  {node}" for node in regressions))
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    raise SystemExit(main(*sys.argv[1:]))
