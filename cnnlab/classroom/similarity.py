"""Answer similarity with winnowed fingerprints (MOSS's method, from ``copydetect``).

Each text is tokenized by copydetect (Pygments): names become ``V``, function names
``F``, strings ``S``; whitespace and comments go. So renaming variables changes nothing,
and as fingerprints form a set, reordering functions changes nothing either. k-grams of
``noise`` characters of that token text are hashed and winnowed with a window that
guarantees every shared run of ``guarantee`` characters is found. Fingerprints of the
exercise's template (stubs, signatures, docstrings) are removed as boilerplate.

``share`` = the fraction of a text's fingerprinted tokens also found in the other text
(copydetect's similarity); a pair is listed when either share reaches ``threshold``.
The defaults come from ``benchmarks/similarity_settings.py`` on the planted answers of
``tests/planted.py`` (k 25, guarantee 30: planted copies share >= 0.59, every other pair
<= 0.17).
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from copydetect import CodeFingerprint, compare_files

NOISE = 25          # k: characters of token text per fingerprint
GUARANTEE = 30      # every shared run this long is found (window = GUARANTEE - NOISE + 1)
THRESHOLD = 0.45    # listed from this share (planted copies >= 0.59, other pairs <= 0.17: similarity_settings.py)
MIN_TOKENS = 40     # a text with fewer fingerprinted tokens (after boilerplate) is too short to judge


@dataclass
class Match:
    """Two texts that are alike: ``a`` and ``b`` name them (student or reference)."""
    a: str
    b: str
    a_share: float                       # fraction of a's tokens found in b
    b_share: float
    a_spans: list[tuple[int, int]]       # character ranges of a that match b
    b_spans: list[tuple[int, int]]


def fingerprint(text: str, boilerplate: np.ndarray | None = None, noise: int = NOISE,
                guarantee: int = GUARANTEE) -> CodeFingerprint:
    """copydetect's fingerprint of a Python text, template fingerprints removed."""
    return CodeFingerprint("answer.py", noise, guarantee - noise + 1, boilerplate, language="python",
                           fp=io.StringIO(text))


def boilerplate_hashes(texts: list[str], noise: int = NOISE) -> np.ndarray:
    """Every k-gram hash of the template texts (window 1: all of them, as copydetect does)."""
    hashes = [h for text in texts if text.strip()
              for h in CodeFingerprint("template.py", noise, 1, language="python", fp=io.StringIO(text)).hashes]
    return np.unique(np.array(hashes, dtype=np.int64))


def compare(name_a: str, a: CodeFingerprint, name_b: str, b: CodeFingerprint) -> Match:
    """Both shares and the matching character spans of two fingerprints."""
    _, (share_a, share_b), (slices_a, slices_b) = compare_files(a, b)
    spans = [[(int(s), int(e)) for s, e in zip(*sl)] if len(sl) and len(sl[0]) else [] for sl in (slices_a, slices_b)]
    return Match(name_a, name_b, float(share_a), float(share_b), spans[0], spans[1])


def judged(fp: CodeFingerprint, min_tokens: int = MIN_TOKENS) -> bool:
    """Whether a text has enough of its own tokens (after the template) to compare."""
    return fp.token_coverage >= min_tokens


def similar_pairs(texts: dict[str, str], template: list[str], threshold: float = THRESHOLD,
                  noise: int = NOISE, guarantee: int = GUARANTEE) -> list[Match]:
    """Every pair of ``texts`` (name -> text) with a share >= threshold, most alike first."""
    boiler = boilerplate_hashes(template, noise)
    prints = {name: fingerprint(text, boiler, noise, guarantee) for name, text in texts.items()}
    names = sorted(n for n, fp in prints.items() if judged(fp))
    found = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            match = compare(a, prints[a], b, prints[b])
            if max(match.a_share, match.b_share) >= threshold:
                found.append(match)
    return sorted(found, key=lambda m: -max(m.a_share, m.b_share))


def against_references(texts: dict[str, str], references: dict[str, str], template: list[str],
                       threshold: float = THRESHOLD, noise: int = NOISE, guarantee: int = GUARANTEE) -> list[Match]:
    """Each text whose own share found in a reference reaches ``threshold`` (``a`` is the
    student, ``b`` the reference), most alike first."""
    boiler = boilerplate_hashes(template, noise)
    refs = {name: fingerprint(text, boiler, noise, guarantee) for name, text in references.items()}
    found = []
    for name, text in sorted(texts.items()):
        fp = fingerprint(text, boiler, noise, guarantee)
        if not judged(fp):
            continue
        for ref_name, ref in refs.items():
            match = compare(name, fp, ref_name, ref)
            if match.a_share >= threshold:
                found.append(match)
    return sorted(found, key=lambda m: -m.a_share)


def marked_lines(text: str, spans: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """The text's lines, each with whether it holds matching characters (for a side-by-side view)."""
    lines, start, out = text.splitlines(keepends=True), 0, []
    for line in lines:
        end = start + len(line)
        hit = any(s < end and e > start and text[max(s, start):min(e, end)].strip() for s, e in spans)
        out.append((line.rstrip("\n"), hit))
        start = end
    return out
