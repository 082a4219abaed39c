#!/usr/bin/env python3
"""Generate a labelled evaluation set for Homeward's cross-script person matching.

Writes four files (UTF-8 JSON Lines, one object a line, plus one JSON manifest) to --out
(default target/eval):

* registered.jsonl - a synthetic registered population (default 20,000 people): Ukrainian
  Cyrillic names, for ~30% also the Latin passport form (Ukrainian national transliteration,
  KMU 2010: surname and given name only, as in a passport), for a few older people also a
  Russian Cyrillic form; sex, category, birth date (full, year-month, year or none), unit and
  service number. Deliberate hard cases: namesakes (~5%), fathers and sons (~3%) and brothers
  or twins (~1%).
* inquiries.jsonl - probes (default 5,000) as a family or the other side writes about
  someone, each labelled with its true target ("target": person id, or null for a person who
  is not registered) and the noise applied ("noise": russian_form, latin_translit, typo,
  swapped_order, initials, missing_patronymic, all_caps, year_only_birth_date,
  swapped_birth_date, birth_year_off_by_one, missing_birth_date; "no_noise" when none;
  "unregistered" for a probe whose person is not registered, half of them made hard: a
  namesake with another patronymic and a birth year several years off, or the unregistered
  father or son of a registered man).
* lists.jsonl - a list reconciliation task: our request list (default 1,000 registered
  people) and the other side's offer list (as many entries), each entry labelled with the
  registered person it truly is ("person") and, for a substitution (a different person
  offered under a requested person's name), the request ref it imitates ("substitution_of").
  Every line also carries the "noise" applied to it.
* manifest.json - seed, counts, libraries and versions, noise counts, SHA-256 of the files.

Sources and licences:
* Faker (MIT, https://github.com/joke2k/faker): the uk_UA given-name and surname lists, and
  the frequency-ordered ru_RU surname list (about 5% of the population carry a Russian-origin
  surname, respelled the Ukrainian way: Лебедєв, Іванов). Faker's patronymic lists are not
  used: a patronymic is always derived from the father's given name.
* names-translator (MIT, Dmitry Chaplinsky): its Ukrainian->Russian dictionaries of given
  names, patronymics and surnames give the Russian forms ("russian_form"); its surname
  dictionary keys (real Ukrainian surnames) supply the long tail of rare surnames; its
  Transliterator.special_cases supply the only English given-name forms used (Julia, Dmitry,
  Eugene, Peter, Irene, Youriy). No library found gives Alexander/Nicholas/Helen, so those
  are not generated.
* translitua (MIT, by the names-translator authors): Ukrainian Latin transliteration tables
  (KMU 2010 national, passport 2007/2004, BGN, national 1996, ALA-LC modified).
* iuliia (MIT, Anton Zhiyanov): Russian Latin schemes (ICAO Doc 9303, MVD 310/782,
  GOST 52535, Wikipedia, ALA-LC alt, BS 2979 alt), an implementation independent of the above.
* Hand-kept here: a short frequency-ordered head of common Ukrainian surnames and given
  names (several, e.g. Мельник, Бондаренко, Микола, Юрій, Юлія, are missing from Faker's
  lists), each checked at run time to be a key of names-translator's dictionaries; the
  Ukrainian patronymic formation rules; units and service numbers are made up.

Surnames, given names and units are drawn with Zipf-like weights (common surnames appear
hundreds of times, tail surnames once). The output is deterministic: the same seed and the
same pinned library versions (scripts/requirements-eval.txt) give byte-identical files.

    pip install -r scripts/requirements-eval.txt
    python3 scripts/gen-eval-set.py --seed 20250523 --people 20000 --inquiries 5000 \\
        --list-size 1000 --out target/eval
"""

from __future__ import annotations

import argparse
import bisect
import calendar
import hashlib
import importlib.metadata
import itertools
import json
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import iuliia
import translitua
from faker import Faker
from names_translator import Transliterator
from names_translator.dicts import NameDicts

ROOT = Path(__file__).resolve().parent.parent

# Approximate frequency order of the most common Ukrainian surnames (male / common form).
SURNAME_HEAD = (
    "Мельник Шевченко Коваленко Бондаренко Бойко Ткаченко Кравченко Ковальчук Коваль Олійник "
    "Шевчук Поліщук Бондар Ткачук Марченко Лисенко Руденко Савченко Петренко Мороз Кравчук "
    "Клименко Павленко Савчук Кузьменко Левченко Гончаренко Харченко Сидоренко Карпенко Швець "
    "Романенко Литвиненко Мельничук Тимошенко Кушнір Гуменюк Приходько Пономаренко Василенко "
    "Яковенко Кириленко Демченко Ковтун Гаврилюк Юрченко Захарченко Панченко Костенко Білик "
    "Іваненко Степаненко Остапенко Семенко Назаренко Мазур Гриценко Вакуленко Кучер Власенко "
    "Лук'яненко Ярмоленко Дячук Гнатюк Федоренко Онищенко"
).split()
# Approximate frequency order of given names of Ukrainians born 1960-2006.
MALE_HEAD = (
    "Олександр Сергій Андрій Володимир Дмитро Юрій Віктор Микола Олексій Іван Олег Василь "
    "Ігор Максим Віталій Євген Роман Артем Богдан Михайло Денис Анатолій Ярослав Вадим "
    "Валерій Петро Руслан Павло Владислав Тарас Назар Антон Костянтин Станіслав Вʼячеслав "
    "Геннадій Леонід Григорій Степан Валентин Кирило Микита Данило Ілля Святослав Ростислав"
).split()
FEMALE_HEAD = (
    "Олена Наталія Тетяна Ірина Оксана Світлана Юлія Ольга Анна Марія Людмила Валентина "
    "Катерина Вікторія Галина Анастасія Надія Лариса Інна Алла Віра Любов Яна Христина Софія"
).split()
# Endings of the tail surnames taken from names-translator (invariant or -ський/-цький).
TAIL_ENDINGS = ("енко", "ко", "ук", "юк", "як", "ак", "ик", "ець", "ський", "цький", "ич",
                "ів", "їв", "ар", "яр", "ун")
UK_LOWER = "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя"
RU_LOWER = "абвгдежзийклмнопрстуфхцчшщыьэюя"
LATIN_LOWER = "abcdefghijklmnopqrstuvwxyz"
TAIL_RE = re.compile(r"^[%s']{4,14}$" % UK_LOWER)
LATIN_OK = re.compile(r"^[A-Za-z' .-]*$")
APOSTROPHES = str.maketrans({"ʼ": "'", "’": "'", "`": "'", "´": "'"})

# Latin schemes: (name, callable, weight).
UK_SCHEMES = (
    ("translitua:UkrainianKMU", translitua.UkrainianKMU, 6.0),
    ("translitua:UkrainianPassport2007", translitua.UkrainianPassport2007, 2.0),
    ("translitua:UkrainianNational1996", translitua.UkrainianNational1996, 1.0),
    ("translitua:UkrainianBGN", translitua.UkrainianBGN, 1.0),
    ("translitua:UkrainianALALCModified", translitua.UkrainianALALCModified, 0.5),
    ("translitua:UkrainianPassport2004Alt", translitua.UkrainianPassport2004Alt, 0.5),
)
RU_SCHEMES = (
    ("iuliia:icao_doc_9303", iuliia.ICAO_DOC_9303, 4.0),
    ("iuliia:mvd_310", iuliia.MVD_310, 1.5),
    ("iuliia:mvd_782", iuliia.MVD_782, 1.0),
    ("iuliia:gost_52535", iuliia.GOST_52535, 1.0),
    ("iuliia:wikipedia", iuliia.WIKIPEDIA, 1.0),
    ("iuliia:ala_lc_alt", iuliia.ALA_LC_ALT, 0.5),
    ("iuliia:bs_2979_alt", iuliia.BS_2979_ALT, 0.5),
)

NOISE_TYPES = (
    "russian_form", "latin_translit", "typo", "swapped_order", "initials",
    "missing_patronymic", "all_caps", "year_only_birth_date", "swapped_birth_date",
    "birth_year_off_by_one", "missing_birth_date",
)
NOISE_WEIGHTS = (0.16, 0.14, 0.14, 0.06, 0.07, 0.08, 0.07, 0.08, 0.04, 0.06, 0.06)
DATE_NOISE = ("year_only_birth_date", "swapped_birth_date", "birth_year_off_by_one",
              "missing_birth_date")

PATRONYMIC_SPECIAL = {
    "Микола": ("Миколайович", "Миколаївна"), "Миколай": ("Миколайович", "Миколаївна"),
    "Ілля": ("Ілліч", "Іллівна"), "Яків": ("Якович", "Яківна"), "Лука": ("Лукич", "Луківна"),
    "Кузьма": ("Кузьмич", "Кузьмівна"), "Хома": ("Хомич", "Хомівна"),
    "Сава": ("Савич", "Савівна"), "Лев": ("Львович", "Львівна"),
    "Федір": ("Федорович", "Федорівна"), "Прохір": ("Прохорович", "Прохорівна"),
    "Григорій": ("Григорович", "Григорівна"),
}


def patronymic_of(father_given: str, sex: str) -> str:
    """Ukrainian patronymic from the father's given name."""
    if father_given in PATRONYMIC_SPECIAL:
        m, f = PATRONYMIC_SPECIAL[father_given]
    elif father_given.endswith("ій"):
        stem = father_given[:-2]
        m, f = stem + "ійович", stem + "іївна"
    elif father_given.endswith("ь"):
        m, f = father_given + "ович", father_given[:-1] + "івна"
    elif father_given[-1] in "оа":
        m, f = father_given[:-1] + "ович", father_given[:-1] + "івна"
    elif father_given.endswith("й"):
        m, f = father_given[:-1] + "йович", father_given[:-1] + "ївна"
    else:
        m, f = father_given + "ович", father_given + "івна"
    return m if sex == "male" else f


def female_surname(male: str) -> str:
    """Female form of a Ukrainian surname given in its male (or common) form."""
    for suf in ("ський", "цький", "зький"):
        if male.endswith(suf):
            return male[:-2] + "а"
    if male.endswith("ий"):
        return male[:-2] + "а"
    if male.endswith(("ов", "ев", "єв", "ін", "їн")):
        return male + "а"
    return male


def zipf_cum(n: int, offset: float, s: float = 1.0) -> list[float]:
    return list(itertools.accumulate(1.0 / (r + offset) ** s for r in range(1, n + 1)))


class Weighted:
    def __init__(self, items: list, offset: float, s: float = 1.0) -> None:
        self.items = items
        self.cum = zipf_cum(len(items), offset, s)

    def pick(self, rng: random.Random):
        x = rng.random() * self.cum[-1]
        return self.items[min(bisect.bisect_right(self.cum, x), len(self.items) - 1)]


@dataclass
class Person:
    sex: str
    category: str
    lemma: str  # surname, male/common form
    given: str
    father_given: str
    birth: tuple[int, int, int]  # true date
    date_shape: str  # full | ym | y | none (as registered)
    unit: str
    service_number: str
    latin_passport: bool = False
    ru_variant: bool = False
    kind: str = "ordinary"  # ordinary | namesake | father | son | brother | (unregistered kinds)
    pid: Optional[str] = None

    @property
    def family(self) -> str:
        return self.lemma if self.sex == "male" else female_surname(self.lemma)

    @property
    def patronymic(self) -> str:
        return patronymic_of(self.father_given, self.sex)


def date_obj(d: Optional[tuple[int, int, int]], shape: str = "full") -> Optional[dict]:
    if d is None or shape == "none":
        return None
    if shape == "y":
        return {"year": d[0]}
    if shape == "ym":
        return {"year": d[0], "month": d[1]}
    return {"year": d[0], "month": d[1], "day": d[2]}


def name_obj(script: str, language: str, family: str, given: str, patronymic: str) -> dict:
    return {"script": script, "language": language, "family": family, "given": given,
            "patronymic": patronymic}


class Generator:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.dicts = NameDicts()
        fake_uk = Faker("uk_UA")
        fake_ru = Faker("ru_RU")
        fake_uk.seed_instance(seed)
        fake_ru.seed_instance(seed)
        uk = fake_uk.provider("faker.providers.person")
        ru = fake_ru.provider("faker.providers.person")
        self.sources: dict[str, int] = {}
        self._build_names(uk, ru)
        self._build_units()
        self.english = {k: list(v) for k, v in sorted(Transliterator.special_cases.items())}
        self.service_numbers: dict[str, None] = {}

    # ----------------------------------------------------------------------------- pools
    def _check(self, names: list[str], category: str) -> None:
        missing = [n for n in names if not self.dicts.lookup(n, category)]
        if missing:
            sys.exit(f"not in names-translator '{category}' dictionary: {missing}")

    def _build_names(self, uk, ru) -> None:
        rng = random.Random(self.seed ^ 0x5A17)
        self._check(SURNAME_HEAD, "last")
        self._check(MALE_HEAD + FEMALE_HEAD, "first")
        # Surnames: head + Faker's uk_UA male/common list in a seeded order.
        rest = sorted(s for s in set(uk.last_names_male) if s not in SURNAME_HEAD)
        rng.shuffle(rest)
        self.surnames = Weighted(SURNAME_HEAD + rest, offset=8.0)
        self.sources["surnames_head"] = len(SURNAME_HEAD)
        self.sources["surnames_faker_uk"] = len(rest)
        # Russian-origin surnames from Faker ru_RU (already frequency ordered), respelled.
        ru_surnames = []
        for s in ru.last_names_male:
            uk_form = self._ukrainise_russian_surname(s)
            if uk_form and uk_form not in ru_surnames:
                ru_surnames.append(uk_form)
        self.ru_surnames = Weighted(ru_surnames, offset=4.0)
        self.sources["surnames_faker_ru_respelled"] = len(ru_surnames)
        # Long tail: names-translator surname keys of Ukrainian shape.
        known = set(SURNAME_HEAD) | set(rest) | set(ru_surnames)
        tail = []
        for key in self.dicts.as_dict("last"):  # DAWG order (sorted): deterministic
            if TAIL_RE.match(key) and key.endswith(TAIL_ENDINGS) and "''" not in key:
                name = key[0].upper() + key[1:]
                if name not in known:
                    tail.append(name)
        self.tail_surnames = tail
        self.sources["surnames_tail_names_translator"] = len(tail)
        # Given names: head + remaining Faker names.
        male_rest = sorted(n for n in set(uk.first_names_male) if n not in MALE_HEAD)
        female_rest = sorted(n for n in set(uk.first_names_female) if n not in FEMALE_HEAD)
        rng.shuffle(male_rest)
        rng.shuffle(female_rest)
        self.male_given = Weighted(MALE_HEAD + male_rest, offset=1.5, s=1.15)
        self.female_given = Weighted(FEMALE_HEAD + female_rest, offset=1.5, s=1.15)
        self.sources["given_male"] = len(self.male_given.items)
        self.sources["given_female"] = len(self.female_given.items)

    def _ukrainise_russian_surname(self, ru: str) -> Optional[str]:
        if any(c in ru for c in "ьъё"):
            return None
        s = ru.replace("ы", "и").replace("э", "е")
        if s.startswith("И"):
            s = "І" + s[1:]
        if s.endswith("ев") and s[-3] not in "цжшчщ":
            s = s[:-2] + "єв"
        translations = self.dicts.lookup(s, "last")
        return s if translations and translations[0] == ru else None

    def _build_units(self) -> None:
        rng = random.Random(self.seed ^ 0x0417)
        numbers = rng.sample(range(100, 10000), 180)
        self.units = Weighted([f"в/ч А{n:04d}" for n in numbers], offset=5.0)

    # ------------------------------------------------------------------------ people
    def surname(self, rng: random.Random) -> str:
        x = rng.random()
        if x < 0.09:
            return rng.choice(self.tail_surnames)
        if x < 0.14:
            return self.ru_surnames.pick(rng)
        return self.surnames.pick(rng)

    def given(self, rng: random.Random, sex: str) -> str:
        return (self.male_given if sex == "male" else self.female_given).pick(rng)

    def birth(self, rng: random.Random, category: str, lo: int = 1960, hi: int = 2006,
              year: Optional[int] = None) -> tuple[int, int, int]:
        if year is None:
            if category == "service_member":
                year = round(rng.triangular(1960, 2006, 1987))
            else:
                year = round(rng.triangular(1960, 2006, 1972))
        year = max(lo, min(hi, year))
        month = rng.randint(1, 12)
        return (year, month, rng.randint(1, calendar.monthrange(year, month)[1]))

    def service_number(self, rng: random.Random) -> str:
        while True:
            sn = "".join(rng.choice("АВЕКМНОРСТ") for _ in range(2)) + f"{rng.randint(0, 999999):06d}"
            if sn not in self.service_numbers:
                self.service_numbers[sn] = None
                return sn

    def new_person(self, rng: random.Random, sex: Optional[str] = None,
                   category: Optional[str] = None) -> Person:
        if category is None:
            category = "service_member" if rng.random() < 0.70 else "civilian"
        if sex is None:
            p_male = 0.95 if category == "service_member" else 0.78
            sex = "male" if rng.random() < p_male else "female"
        unit = sn = ""
        if category == "service_member":
            unit = self.units.pick(rng)
            if rng.random() < 0.75:
                sn = self.service_number(rng)
        shape = rng.choices(("full", "ym", "y", "none"), (0.82, 0.03, 0.08, 0.07))[0]
        return Person(sex=sex, category=category, lemma=self.surname(rng),
                      given=self.given(rng, sex), father_given=self.given(rng, "male"),
                      birth=self.birth(rng, category), date_shape=shape, unit=unit,
                      service_number=sn)

    def other_father(self, rng: random.Random, p: Person) -> str:
        while True:
            fg = self.given(rng, "male")
            if patronymic_of(fg, p.sex) != p.patronymic:
                return fg

    def population(self, n: int) -> list[Person]:
        rng = self.rng
        n_namesakes = round(n * 0.05)
        n_fs_pairs = round(n * 0.015)
        n_brother_pairs = round(n * 0.005)
        n_ordinary = n - n_namesakes - 2 * n_fs_pairs - 2 * n_brother_pairs
        people = [self.new_person(rng) for _ in range(n_ordinary)]
        for _ in range(n_namesakes):
            src = rng.choice(people[:n_ordinary])
            p = self.new_person(rng, sex=src.sex)
            p.lemma, p.given, p.kind = src.lemma, src.given, "namesake"
            p.father_given = src.father_given if rng.random() < 0.25 else self.other_father(rng, src)
            if rng.random() < 0.2:
                while p.birth == src.birth:
                    p.birth = self.birth(rng, p.category, year=src.birth[0])
            else:
                while p.birth[0] == src.birth[0]:
                    p.birth = self.birth(rng, p.category, year=src.birth[0] + rng.randint(-15, 15))
            people.append(p)
        for _ in range(n_fs_pairs):
            father = self.new_person(rng, sex="male",
                                     category="service_member" if rng.random() < 0.5 else "civilian")
            father.birth = self.birth(rng, father.category, year=rng.randint(1960, 1980))
            son = self.new_person(rng, sex="male",
                                  category="service_member" if rng.random() < 0.85 else "civilian")
            son.lemma, son.father_given = father.lemma, father.given
            if rng.random() < 0.2:
                son.given = father.given
            son.birth = self.birth(rng, son.category, year=father.birth[0] + rng.randint(20, 30))
            father.kind, son.kind = "father", "son"
            people += [father, son]
        for _ in range(n_brother_pairs):
            a = self.new_person(rng, sex="male")
            b = self.new_person(rng, sex="male")
            b.lemma, b.father_given = a.lemma, a.father_given
            while b.given == a.given:
                b.given = self.given(rng, "male")
            if rng.random() < 0.4:
                b.birth = a.birth  # twins
            else:
                b.birth = self.birth(rng, b.category, year=a.birth[0] + rng.choice((-4, -3, -2, -1, 1, 2, 3, 4)))
                if b.birth[0] > 2006 or b.birth[0] < 1960:
                    b.birth = self.birth(rng, b.category, year=a.birth[0] - (b.birth[0] - a.birth[0]))
            a.kind = b.kind = "brother"
            people += [a, b]
        for p in people:
            p.latin_passport = rng.random() < 0.30
            p.ru_variant = p.birth[0] < 1985 and rng.random() < 0.05
        rng.shuffle(people)
        for i, p in enumerate(people, 1):
            p.pid = f"p{i:06d}"
        return people

    # ------------------------------------------------------------------ name forms
    def _pick_ranked(self, rng: random.Random, options: list[str], top: float) -> str:
        if len(options) == 1 or top >= 1.0 or rng.random() < top:
            return options[0]
        return rng.choice(options[1:])

    @staticmethod
    def _letters_uk_to_ru(s: str) -> str:
        s = s.replace("ський", "ский").replace("цький", "цкий").replace("ська", "ская").replace("цька", "цкая")
        table = str.maketrans({"і": "и", "І": "И", "ї": "и", "Ї": "И", "є": "е", "Є": "Е",
                               "ґ": "г", "Ґ": "Г", "ʼ": "ь", "'": "ь", "’": "ь"})
        return s.translate(table)

    def ru_part(self, rng: random.Random, part: str, category: str, top: float = 0.93) -> str:
        if not part:
            return part
        options = self.dicts.lookup(part, category)
        if not options:
            return self._letters_uk_to_ru(part)
        return self._pick_ranked(rng, options, top)

    def ru_name(self, rng: random.Random, family: str, given: str, patronymic: str,
                top: float = 0.93) -> tuple[str, str, str]:
        return (self.ru_part(rng, family, "last", top), self.ru_part(rng, given, "first", top),
                self.ru_part(rng, patronymic, "patronymic", top))

    @staticmethod
    def latin_part(part: str, scheme, language: str) -> str:
        if not part:
            return part
        if language == "ru" and not re.search("[іїєґІЇЄҐ]", part):
            out = scheme.translate(part)
        else:
            out = translitua.translit(part, scheme if language == "uk" else translitua.UkrainianKMU)
        out = out.translate(APOSTROPHES)
        if not LATIN_OK.match(out):
            out = translitua.translit(part, translitua.UkrainianKMU).translate(APOSTROPHES)
        assert LATIN_OK.match(out), (part, out)
        return out

    def kmu(self, family: str, given: str) -> tuple[str, str]:
        return (self.latin_part(family, translitua.UkrainianKMU, "uk"),
                self.latin_part(given, translitua.UkrainianKMU, "uk"))

    # --------------------------------------------------------------------- records
    def registered_record(self, p: Person) -> dict:
        names = [name_obj("cyrillic", "uk", p.family, p.given, p.patronymic)]
        if p.ru_variant:
            f, g, pa = self.ru_name(self.rng, p.family, p.given, p.patronymic, top=1.0)
            names.append(name_obj("cyrillic", "ru", f, g, pa))
        if p.latin_passport:
            f, g = self.kmu(p.family, p.given)
            names.append(name_obj("latin", "uk", f, g, ""))
        return {"id": p.pid, "category": p.category, "sex": p.sex, "names": names,
                "birth_date": date_obj(p.birth, p.date_shape), "unit": p.unit,
                "service_number": p.service_number}

    def choose_noise(self, rng: random.Random, p: Person) -> list[str]:
        k = rng.choices((0, 1, 2, 3), (0.15, 0.35, 0.30, 0.20))[0]
        chosen: list[str] = []
        pool = list(NOISE_TYPES)
        weights = list(NOISE_WEIGHTS)
        while len(chosen) < k and pool:
            t = rng.choices(pool, weights)[0]
            i = pool.index(t)
            del pool[i], weights[i]
            if t == "swapped_birth_date" and not (p.birth[2] <= 12 and p.birth[1] != p.birth[2]):
                continue
            if t == "missing_birth_date" and any(c in DATE_NOISE for c in chosen):
                continue
            if t in DATE_NOISE and "missing_birth_date" in chosen:
                continue
            if t == "swapped_birth_date" and "year_only_birth_date" in chosen:
                continue
            if t == "year_only_birth_date" and "swapped_birth_date" in chosen:
                continue
            chosen.append(t)
        return chosen

    def render(self, rng: random.Random, p: Person, noise: list[str]) -> tuple[dict, Optional[dict], list[str]]:
        """The name variant and birth date of p as written with the given noise; returns the
        noise actually applied, in canonical order (or ["no_noise"])."""
        applied: list[str] = []
        family, given, patronymic = p.family, p.given, p.patronymic
        script, language = "cyrillic", "uk"
        if "russian_form" in noise:
            new = self.ru_name(rng, family, given, patronymic)
            if new == (family, given, patronymic):
                new = self.ru_name(rng, family, given, patronymic, top=1.0)
            if new != (family, given, patronymic):
                family, given, patronymic = new
                language = "ru"
                applied.append("russian_form")
        if "latin_translit" in noise:
            base = language
            schemes = UK_SCHEMES if base == "uk" else RU_SCHEMES
            scheme = rng.choices([s[1] for s in schemes], [s[2] for s in schemes])[0]
            english = self.english.get(given)
            if english and rng.random() < 0.4:
                given = rng.choice(english)
                language = "en"
            else:
                given = self.latin_part(given, scheme, base)
            family = self.latin_part(family, scheme, base)
            patronymic = self.latin_part(patronymic, scheme, base)
            script = "latin"
            applied.append("latin_translit")
        if "missing_patronymic" in noise and patronymic:
            patronymic = ""
            applied.append("missing_patronymic")
        if "initials" in noise:
            which = rng.choices(("given", "patronymic", "both"), (0.3, 0.35, 0.35))[0]
            if not patronymic:
                which = "given"
            if which in ("given", "both"):
                given = given[0] + "."
            if which in ("patronymic", "both"):
                patronymic = patronymic[0] + "."
            applied.append("initials")
        if "typo" in noise:
            parts = {"family": family, "given": given, "patronymic": patronymic}
            candidates = [k for k in ("family", "given", "patronymic") if len(parts[k]) >= 3 and not parts[k].endswith(".")]
            if candidates:
                k = rng.choices(candidates, [{"family": 5, "given": 3, "patronymic": 2}[c] for c in candidates])[0]
                alphabet = LATIN_LOWER if script == "latin" else (RU_LOWER if language == "ru" else UK_LOWER)
                parts[k] = typo(rng, parts[k], alphabet)
                family, given, patronymic = parts["family"], parts["given"], parts["patronymic"]
                applied.append("typo")
        if "swapped_order" in noise:
            family, given = given, family
            applied.append("swapped_order")
        if "all_caps" in noise:
            family, given, patronymic = family.upper(), given.upper(), patronymic.upper()
            applied.append("all_caps")
        y, m, d = p.birth
        birth: Optional[dict] = {"year": y, "month": m, "day": d}
        if "missing_birth_date" in noise:
            birth = None
            applied.append("missing_birth_date")
        else:
            if "swapped_birth_date" in noise and "year_only_birth_date" not in noise and d <= 12 and d != m:
                m, d = d, m
                applied.append("swapped_birth_date")
            if "birth_year_off_by_one" in noise:
                y += rng.choice((-1, 1))
                applied.append("birth_year_off_by_one")
            if "year_only_birth_date" in noise:
                birth = {"year": y}
                applied.append("year_only_birth_date")
            else:
                birth = {"year": y, "month": m, "day": min(d, calendar.monthrange(y, m)[1])}
        applied.sort(key=NOISE_TYPES.index)
        return (name_obj(script, language, family, given, patronymic), birth,
                applied or ["no_noise"])


def typo(rng: random.Random, word: str, alphabet: str) -> str:
    """One insert, delete, substitute or transpose, not in the first letter 90% of the time."""
    for _ in range(20):
        lo = 0 if rng.random() < 0.1 else 1
        op = rng.choices(("substitute", "insert", "delete", "transpose"), (0.4, 0.2, 0.2, 0.2))[0]
        i = rng.randint(lo, len(word) - 1)
        upper = word[i].isupper()
        c = rng.choice(alphabet)
        c = c.upper() if upper else c
        if op == "substitute":
            out = word[:i] + c + word[i + 1:]
        elif op == "insert":
            out = word[:i] + c + word[i:]
        elif op == "delete":
            out = word[:i] + word[i + 1:]
        else:
            if i + 1 >= len(word):
                continue
            out = word[:i] + word[i + 1] + word[i] + word[i + 2:]
        if out != word and len(out) >= 2 and out[0].isalpha():
            if i == 0 and word[0].isupper():
                out = out[0].upper() + (out[1:].lower() if word[1:].islower() else out[1:])
            return out
    return word


# --------------------------------------------------------------------------- inquiries
def identity_key(p: Person) -> tuple:
    return (p.family, p.given, p.patronymic, p.birth[0])


def fresh_unregistered(gen: Generator, rng: random.Random, taken: dict) -> Person:
    while True:
        p = gen.new_person(rng)
        if identity_key(p) not in taken:
            p.kind = "unregistered_random"
            return p


def hard_namesake(gen: Generator, rng: random.Random, people: list[Person], taken: dict) -> Person:
    while True:
        y = rng.choice(people)
        p = gen.new_person(rng, sex=y.sex)
        p.lemma, p.given = y.lemma, y.given
        p.father_given = gen.other_father(rng, y)
        year = y.birth[0] + rng.choice((-1, 1)) * rng.randint(3, 10)
        p.birth = gen.birth(rng, p.category, lo=1945, hi=2006, year=year)
        if abs(p.birth[0] - y.birth[0]) >= 3 and identity_key(p) not in taken:
            p.kind = "unregistered_namesake"
            return p


def hard_relative(gen: Generator, rng: random.Random, people: list[Person], taken: dict) -> Person:
    while True:
        as_father = rng.random() < 0.5
        x = rng.choice(people)
        if x.sex != "male":
            continue
        if as_father:
            if x.birth[0] < 1980 or x.kind == "son":
                continue
            p = gen.new_person(rng, sex="male", category="civilian" if rng.random() < 0.6 else "service_member")
            p.lemma, p.given = x.lemma, x.father_given
            p.birth = gen.birth(rng, p.category, lo=1940, year=x.birth[0] - rng.randint(20, 30))
            p.kind = "unregistered_father"
        else:
            if x.birth[0] > 1984 or x.kind == "father":
                continue
            p = gen.new_person(rng, sex="male", category="service_member" if rng.random() < 0.8 else "civilian")
            p.lemma, p.father_given = x.lemma, x.given
            if rng.random() < 0.25:
                p.given = x.given
            p.birth = gen.birth(rng, p.category, year=min(2006, x.birth[0] + rng.randint(20, 30)))
            if p.birth[0] - x.birth[0] < 18:
                continue
            p.kind = "unregistered_son"
        if identity_key(p) not in taken:
            return p


def make_inquiries(gen: Generator, people: list[Person], n: int, stats: dict) -> list[dict]:
    rng = random.Random(f"{gen.seed}:inquiries")
    taken = {identity_key(p): None for p in people}
    hard = [p for p in people if p.kind != "ordinary"]
    n_unreg = round(n * 0.10)
    n_hard_namesake = n_unreg // 4
    n_hard_relative = n_unreg // 2 - n_hard_namesake
    probes: list[tuple[Person, bool]] = []
    for _ in range(n - n_unreg):
        probes.append((rng.choice(hard) if rng.random() < 0.25 else rng.choice(people), True))
    for _ in range(n_hard_namesake):
        probes.append((hard_namesake(gen, rng, people, taken), False))
    for _ in range(n_hard_relative):
        probes.append((hard_relative(gen, rng, people, taken), False))
    for _ in range(n_unreg - n_hard_namesake - n_hard_relative):
        probes.append((fresh_unregistered(gen, rng, taken), False))
    rng.shuffle(probes)
    out = []
    for i, (p, registered) in enumerate(probes, 1):
        name, birth, applied = gen.render(rng, p, gen.choose_noise(rng, p))
        noise = applied if registered else ["unregistered"] + applied
        for t in noise:
            stats["inquiry_noise"][t] = stats["inquiry_noise"].get(t, 0) + 1
        kind = ("registered_" + p.kind) if registered else p.kind
        stats["inquiry_kinds"][kind] = stats["inquiry_kinds"].get(kind, 0) + 1
        service = p.category == "service_member"
        out.append({
            "id": f"q{i:06d}",
            "target": p.pid if registered else None,
            "noise": noise,
            "names": [name],
            "birth_date": birth,
            "sex": p.sex if rng.random() < 0.93 else "unknown",
            "unit": p.unit if service and rng.random() < 0.35 else "",
            "service_number": p.service_number if service and rng.random() < 0.15 else "",
        })
    return out


# ------------------------------------------------------------------------------- lists
def offer_noise(rng: random.Random, extra_typo: float = 0.0) -> list[str]:
    x = rng.random()
    noise = ["russian_form"] if x < 0.60 else (["russian_form", "latin_translit"] if x < 0.85 else ["latin_translit"])
    if rng.random() < 0.08 + extra_typo:
        noise.append("typo")
    if rng.random() < 0.07:
        noise.append("year_only_birth_date")
    return noise


def make_lists(gen: Generator, people: list[Person], size: int, stats: dict) -> list[dict]:
    rng = random.Random(f"{gen.seed}:lists")
    taken = {identity_key(p): None for p in people}
    groups: dict[tuple, list[Person]] = {}
    for p in people:
        groups.setdefault((p.lemma, p.given, p.sex), []).append(p)
    n_sub = round(size * 0.02)
    n_sub_registered = n_sub // 2
    n_other = round(size * 0.02)
    n_unreg = round(size * 0.01)
    used: dict[str, None] = {}
    order = people[:]
    rng.shuffle(order)
    # Requested people with a registered namesake, whose namesake is offered instead.
    registered_subs: list[tuple[Person, Person]] = []
    for r in order:
        if len(registered_subs) == n_sub_registered:
            break
        group = [s for s in groups[(r.lemma, r.given, r.sex)] if s.pid != r.pid and s.pid not in used]
        if r.pid in used or not group:
            continue
        s = rng.choice(group)
        used[r.pid] = used[s.pid] = None
        registered_subs.append((r, s))
    service = [p for p in order if p.category == "service_member" and p.pid not in used]
    civil = [p for p in order if p.category == "civilian" and p.pid not in used]
    n_rest = size - len(registered_subs)
    n_service = min(len(service), round(n_rest * 0.85))
    request = [r for r, _ in registered_subs] + service[:n_service] + civil[:n_rest - n_service]
    for p in request:
        used[p.pid] = None
    rng.shuffle(request)
    ref = {p.pid: f"r{i:04d}" for i, p in enumerate(request, 1)}
    lines = []
    for p in request:
        rec = gen.registered_record(p)
        names = [n for n in rec["names"] if n["language"] == "uk"]
        if len(names) > 1 and rng.random() < 0.5:
            names = names[:1]
        lines.append({"list": "request", "ref": ref[p.pid], "person": p.pid, "names": names,
                      "birth_date": rec["birth_date"], "sex": p.sex, "unit": p.unit,
                      "service_number": p.service_number, "substitution_of": None,
                      "noise": ["no_noise"]})
    # Substitutions.
    registered_sub_pids = {r.pid for r, _ in registered_subs}
    others = [p for p in request if p.pid not in registered_sub_pids]
    fabricated_targets = rng.sample(others, n_sub - len(registered_subs))
    offers: list[tuple[Person, Optional[str], Optional[str], list[str], str]] = []
    for r, s in registered_subs:
        offers.append((s, s.pid, ref[r.pid], offer_noise(rng, 0.2), "substitution_registered"))
    for r in fabricated_targets:
        while True:
            s = gen.new_person(rng, sex=r.sex, category=r.category)
            s.lemma, s.given = r.lemma, r.given
            mode = rng.choices(("patronymic", "date", "both"), (0.3, 0.3, 0.4))[0]
            s.father_given = r.father_given
            if mode in ("patronymic", "both"):
                s.father_given = gen.other_father(rng, r)
            s.birth = r.birth
            if mode in ("date", "both"):
                while s.birth == r.birth:
                    if rng.random() < 0.5:
                        s.birth = gen.birth(rng, s.category, year=r.birth[0])
                    else:
                        s.birth = gen.birth(rng, s.category, lo=1945,
                                            year=r.birth[0] + rng.choice((-1, 1)) * rng.randint(1, 12))
            if identity_key(s) not in taken:
                break
        s.kind = "substitution_unregistered"
        offers.append((s, None, ref[r.pid], offer_noise(rng, 0.2), s.kind))
    substituted = {pid for pid in registered_sub_pids} | {r.pid for r in fabricated_targets}
    remaining = [p for p in request if p.pid not in substituted]
    offered = rng.sample(remaining, size - n_sub - n_other - n_unreg)
    for p in offered:
        offers.append((p, p.pid, None, offer_noise(rng), "requested"))
    outsiders = [p for p in order if p.pid not in used][:n_other]
    for p in outsiders:
        offers.append((p, p.pid, None, offer_noise(rng), "registered_not_requested"))
    for _ in range(n_unreg):
        p = fresh_unregistered(gen, rng, taken)
        offers.append((p, None, None, offer_noise(rng), "unregistered"))
    rng.shuffle(offers)
    stats["lists"] = {"request": len(request), "offer": len(offers),
                      "requested_not_offered": len(remaining) - len(offered)}
    for i, (p, person, sub_of, noise, kind) in enumerate(offers, 1):
        name, birth, applied = gen.render(rng, p, noise)
        stats["lists"][kind] = stats["lists"].get(kind, 0) + 1
        for t in applied:
            stats["offer_noise"][t] = stats["offer_noise"].get(t, 0) + 1
        service = p.category == "service_member"
        lines.append({"list": "offer", "ref": f"o{i:04d}", "person": person, "names": [name],
                      "birth_date": birth, "sex": p.sex,
                      "unit": p.unit if service and rng.random() < 0.3 else "",
                      "service_number": p.service_number if service and rng.random() < 0.4 else "",
                      "substitution_of": sub_of, "noise": applied})
    return lines


# -------------------------------------------------------------------------------- main
def write_jsonl(path: Path, rows: list[dict]) -> str:
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def library_info() -> dict:
    out = {}
    for dist in ("Faker", "names-translator", "translitua", "iuliia", "dawg2-python"):
        meta = importlib.metadata.metadata(dist)
        licence = meta.get("License-Expression") or meta.get("License") or ""
        if not licence or len(licence) > 40:
            classifiers = [c.split(" :: ")[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License")]
            licence = classifiers[0] if classifiers else "unknown"
        out[dist] = {"version": meta["Version"], "licence": licence}
    return out


def population_stats(people: list[Person], records: list[dict]) -> dict:
    def count(values) -> dict:
        c: dict = {}
        for v in values:
            c[v] = c.get(v, 0) + 1
        return dict(sorted(c.items(), key=lambda kv: (-kv[1], str(kv[0]))))

    surnames = count(p.lemma for p in people)
    return {
        "people": len(people),
        "category": count(p.category for p in people),
        "sex": count(p.sex for p in people),
        "kind": count(p.kind for p in people),
        "birth_date_shape": count(p.date_shape for p in people),
        "latin_passport_variant": sum(p.latin_passport for p in people),
        "russian_cyrillic_variant": sum(p.ru_variant for p in people),
        "distinct_surnames": len(surnames),
        "surnames_occurring_once": sum(1 for v in surnames.values() if v == 1),
        "top_surnames": dict(list(surnames.items())[:10]),
        "top_male_given": dict(list(count(p.given for p in people if p.sex == "male").items())[:10]),
        "top_female_given": dict(list(count(p.given for p in people if p.sex == "female").items())[:10]),
        "with_service_number": sum(1 for r in records if r["service_number"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=20250523)
    ap.add_argument("--people", type=int, default=20000)
    ap.add_argument("--inquiries", type=int, default=5000)
    ap.add_argument("--list-size", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=ROOT / "target" / "eval")
    args = ap.parse_args()
    if args.people < 1000 or args.list_size * 2 > args.people:
        sys.exit("need --people >= 1000 and --people >= 2 * --list-size")
    started = time.monotonic()
    gen = Generator(args.seed)
    people = gen.population(args.people)
    records = [gen.registered_record(p) for p in people]
    stats: dict = {"inquiry_noise": {}, "inquiry_kinds": {}, "offer_noise": {}}
    inquiries = make_inquiries(gen, people, args.inquiries, stats)
    lists = make_lists(gen, people, args.list_size, stats)

    args.out.mkdir(parents=True, exist_ok=True)
    digests = {
        "registered.jsonl": write_jsonl(args.out / "registered.jsonl", records),
        "inquiries.jsonl": write_jsonl(args.out / "inquiries.jsonl", inquiries),
        "lists.jsonl": write_jsonl(args.out / "lists.jsonl", lists),
    }
    order = NOISE_TYPES + ("no_noise", "unregistered")
    manifest = {
        "generator": "scripts/gen-eval-set.py",
        "seed": args.seed,
        "parameters": {"people": args.people, "inquiries": args.inquiries, "list_size": args.list_size},
        "libraries": library_info(),
        "latin_schemes": {"registered_passport": "translitua:UkrainianKMU",
                          "ukrainian": {s[0]: s[2] for s in UK_SCHEMES},
                          "russian": {s[0]: s[2] for s in RU_SCHEMES}},
        "name_sources": gen.sources,
        "registered": population_stats(people, records),
        "inquiries": {
            "total": len(inquiries),
            "targeted": sum(1 for q in inquiries if q["target"]),
            "unregistered": sum(1 for q in inquiries if not q["target"]),
            "kinds": dict(sorted(stats["inquiry_kinds"].items())),
            "noise_counts": {t: stats["inquiry_noise"][t] for t in order if t in stats["inquiry_noise"]},
        },
        "lists": {
            **stats["lists"],
            "offer_noise_counts": {t: stats["offer_noise"][t] for t in order if t in stats["offer_noise"]},
        },
        "sha256": digests,
    }
    (args.out / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    reg = manifest["registered"]
    print(f"wrote {args.out} in {time.monotonic() - started:.1f}s", file=sys.stderr)
    print(f"registered: {reg['people']} {reg['category']} {reg['sex']} {reg['kind']}; "
          f"{reg['distinct_surnames']} surnames, {reg['surnames_occurring_once']} occurring once, "
          f"top {list(reg['top_surnames'].items())[:3]}", file=sys.stderr)
    print(f"inquiries: {manifest['inquiries']['kinds']}", file=sys.stderr)
    print(f"inquiry noise: {manifest['inquiries']['noise_counts']}", file=sys.stderr)
    print(f"lists: {manifest['lists']}", file=sys.stderr)


if __name__ == "__main__":
    main()
