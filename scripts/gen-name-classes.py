#!/usr/bin/env python3
"""Regenerate crates/identity/data/name_classes.tsv, the name equivalence classes.

Source: the MIT-licensed `names-translator` package on PyPI (Dmitry Chaplinsky), whose
bundled dictionaries map Ukrainian given names and patronymics to their ranked Russian
translations. Every Ukrainian name is linked to each of its Russian translations; a class is
a connected component of those links (Олександр - Александр, Микола - Николай, Олександрович
- Александрович). Surnames and the package's uncategorised legacy pool are not used. Classes
with a single member carry no equivalence and are left out.

English forms: the package's own `Transliterator.special_cases` (Eugene, Peter, Julia, ...)
plus the small hand-kept list crates/identity/data/name_classes_en_supplement.tsv, each
English form attached to the given-name class of its Cyrillic anchor.

Output is deterministic: members sorted within a line, lines sorted within a section, and no
timestamps. Python 3.11, standard library plus names-translator only:

    python3 -m venv /tmp/nt-venv
    /tmp/nt-venv/bin/pip install names-translator==2.1.0
    /tmp/nt-venv/bin/python scripts/gen-name-classes.py [OUTPUT]
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
from pathlib import Path

from names_translator import Transliterator
from names_translator._text import title
from names_translator.dicts import NameDicts

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "crates" / "identity" / "data"
DEFAULT_OUTPUT = DATA / "name_classes.tsv"
SUPPLEMENT = DATA / "name_classes_en_supplement.tsv"

# Sections of the output, in order: (section name, names-translator pool).
SECTIONS = (("given", "first"), ("patronymic", "patronymic"))

CYRILLIC_NAME = re.compile(r"^[А-Яа-яЁёІіЇїЄєҐґ][А-Яа-яЁёІіЇїЄєҐґ' -]*$")
LATIN_NAME = re.compile(r"^[A-Za-z][A-Za-z' -]*$")


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # Smallest string is the root: the result does not depend on link order.
            lo, hi = sorted((ra, rb))
            self.parent[hi] = lo

    def components(self) -> list[list[str]]:
        groups: dict[str, list[str]] = {}
        for x in self.parent:
            groups.setdefault(self.find(x), []).append(x)
        return [sorted(g) for g in groups.values()]


def build_section(dicts: NameDicts, pool: str, stats: dict[str, int]) -> UnionFind:
    uf = UnionFind()
    for key, translations in sorted(dicts.as_dict(pool).items()):
        uk = title(key)
        if not CYRILLIC_NAME.match(uk):
            stats["dropped"] += 1
            continue
        uf.find(uk)
        for ru in translations:
            if CYRILLIC_NAME.match(ru):
                uf.union(uk, ru)
            else:
                stats["dropped"] += 1
    return uf


def english_forms() -> list[tuple[str, str, str]]:
    """(Cyrillic anchor, English form, origin) pairs, sorted."""
    pairs: set[tuple[str, str, str]] = set()
    for anchor, forms in Transliterator.special_cases.items():
        for form in forms:
            pairs.add((anchor, form, "names-translator"))
    for lineno, line in enumerate(SUPPLEMENT.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            sys.exit(f"{SUPPLEMENT}:{lineno}: expected 'Cyrillic<TAB>English...'")
        for form in fields[1:]:
            pairs.add((fields[0], form, "supplement"))
    for anchor, form, _ in pairs:
        if not CYRILLIC_NAME.match(anchor) or not LATIN_NAME.match(form):
            sys.exit(f"bad English pair {anchor!r} -> {form!r}")
    return sorted(pairs)


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT
    version = importlib.metadata.version("names_translator")
    meta = importlib.metadata.metadata("names_translator")
    licence = meta.get("License-Expression") or meta.get("License") or "unknown"

    dicts = NameDicts()
    stats = {"dropped": 0}
    sections: dict[str, list[list[str]]] = {}
    for section, pool in SECTIONS:
        uf = build_section(dicts, pool, stats)
        if section == "given":
            for anchor, form, _ in english_forms():
                if anchor not in uf.parent:
                    sys.exit(f"English anchor {anchor!r} is not a given name of the source")
                uf.union(anchor, form)
        sections[section] = sorted(c for c in uf.components() if len(c) > 1)

    lines = [
        "# Homeward name equivalence classes: Ukrainian, Russian and English forms of given names",
        "# and patronymics. GENERATED by scripts/gen-name-classes.py; do not edit by hand.",
        f"# Source: names-translator {version} (PyPI, https://github.com/dchaplinsky/names-translator),",
        f"# licence {licence}, Copyright (c) 2018 Dmitry Chaplinsky: its 'first' and 'patronymic'",
        "# Ukrainian->Russian dictionaries; a class is a connected component of those links.",
        "# English forms: names-translator Transliterator.special_cases plus the hand-kept",
        "# crates/identity/data/name_classes_en_supplement.tsv.",
        "# Format: '## section' lines, then one class per line, members separated by tabs.",
        "# Equal classes are evidence, never proof, that two names are the same.",
    ]
    for section, _ in SECTIONS:
        lines.append(f"## {section}")
        lines.extend("\t".join(c) for c in sections[section])
    output.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")

    counts = ", ".join(
        f"{s}: {len(cs)} classes / {sum(map(len, cs))} members" for s, cs in sections.items()
    )
    print(f"wrote {output} ({counts}; {stats['dropped']} source entries dropped)", file=sys.stderr)


if __name__ == "__main__":
    main()
