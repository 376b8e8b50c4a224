#!/usr/bin/env python3
"""Every figure of the article, read from a host subscriber: the JSON lines
of `paystat sub CMI/ MTC/ OC/ '$ratio/'` on stdin, applied in order, then
the checks of tests/e2e/article.py (those of
tests/e2e/test_indicators.py::test_article_figures).

    paystat sub ... | tests/docker/article.py
Prints one line per figure; exit status 0 when every figure matches, 1
otherwise (a topic not on the feed yet counts as a mismatch)."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from article import checks  # noqa: E402
from psclient import view_from_lines  # noqa: E402


def main():
    view = view_from_lines(json.loads(line) for line in sys.stdin if line.strip())
    try:
        results = checks(view)
    except (KeyError, TypeError) as e:
        print(f"FAIL not every figure is on the feed yet: missing {e} ({len(view)} topics)")
        return 1
    failed = 0
    for name, got, ok in results:
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {got}")
    print(f"{len(results) - failed} of {len(results)} article checks match")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
