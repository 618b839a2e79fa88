"""Which copydetect settings separate planted copies from independent answers?

For set 01_perceptron's planted answers (``tests/planted.py``: three independent correct
implementations, a renamed and reordered copy, a pasted copy of ``cnnlab.reference``, a
renamed copy of the answer key), prints for each (noise k, guarantee) the lowest share of
a planted copy and the highest share of any other pair (independent answers, and
answers against references they did not copy) (the larger of a pair's
two shares; against a reference, the student's share). A threshold between the two lists
the copies and none of the independent answers. Not a timing: a measurement the defaults
in ``cnnlab/classroom/similarity.py`` were chosen from.

    python benchmarks/similarity_settings.py [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cnnlab.classroom import answers, similarity  # noqa: E402
from tests import planted  # noqa: E402

COPIES = {frozenset(("alice", "bob")), frozenset(("erin", "cnnlab.reference.perceptron")),
          frozenset(("frank", "solution"))}
# related without being planted copies: the answer key follows the reference closely, so its
# two copiers resemble each other and the other source (left out of both columns)
RELATED = {frozenset(("erin", "frank")), frozenset(("erin", "solution")),
           frozenset(("frank", "cnnlab.reference.perceptron"))}
SETTINGS = [(15, 20), (20, 25), (25, 25), (25, 30), (30, 35), (35, 40)]


def measure(noise: int, guarantee: int) -> dict:
    source = answers.load_set_source(planted.SOLUTION)
    texts = {s: answers.joined(c, source.answer_ids) for s, c in planted.answers().items()}
    template = answers.template_texts(source)
    refs = {**answers.reference_sources(), "solution": answers.joined(source.solution, source.answer_ids)}
    shares = {frozenset((m.a, m.b)): max(m.a_share, m.b_share)
              for m in similarity.similar_pairs(texts, template, 0.0, noise, guarantee)}
    shares.update({frozenset((m.a, m.b)): m.a_share
                   for m in similarity.against_references(texts, refs, template, 0.0, noise, guarantee)})
    independent = [v for k, v in shares.items() if k not in COPIES | RELATED]
    return {"noise": noise, "guarantee": guarantee, "lowest_copy": round(min(shares.get(c, 0) for c in COPIES), 2),
            "highest_independent": round(max(independent, default=0), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [measure(k, g) for k, g in SETTINGS]
    if args.json:
        print(json.dumps(rows))
        return
    print("noise  guarantee  lowest copy  highest independent")
    for r in rows:
        print(f"{r['noise']:>5}  {r['guarantee']:>9}  {r['lowest_copy']:>11.2f}  {r['highest_independent']:>19.2f}")
    print(f"defaults: noise {similarity.NOISE}, guarantee {similarity.GUARANTEE}, threshold {similarity.THRESHOLD}")


if __name__ == "__main__":
    main()
