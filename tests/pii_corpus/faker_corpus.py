#!/usr/bin/env python3
"""Generate the Faker-based development and held-out PII sets (issue 19).

    python3 faker_corpus.py dev     > faker_dev.jsonl
    python3 faker_corpus.py train   > faker_train.jsonl   (tagger training data, dev templates)
    python3 faker_corpus.py heldout > faker_heldout.jsonl

Both sets have de/fr/it/en office text with names, addresses and numbers drawn from Faker's
locale providers (de_CH, de_DE, de_AT, fr_CH, fr_FR, it_IT, en_GB, en_US; Faker 40.54.0, MIT
licence, https://pypi.org/project/Faker/), lists the project's own lexicon (src/pii/names.rs)
was not built from, plus decoys that must stay unflagged.

What keeps the held-out set honest:
- its templates (faker_templates_heldout.py) are a separate file written before any tuning and
  never read while tuning; the recognizers and the tagger are tuned on the dev set only;
- names are split by a hash of each name token: a given name or surname goes either to the dev
  partition or to the held-out one, never both, so the held-out names are unseen by the tagger;
- a different seed.

Markup in templates: {SLOT} is replaced by a generated value (labeled with the slot's entity
type; NEG_* and DECOY_* slots are unlabeled) and [[TYPE|text]] labels a literal span.
Output is deterministic (fixed seeds, Faker seeded). Licence: part of auditgate, Apache-2.0.
"""
import json
import random
import re
import sys
import zlib

import faker

import generate as g

LOCALES = {
    "de": ["de_CH", "de_DE", "de_AT"],
    "fr": ["fr_CH", "fr_FR"],
    "it": ["it_IT"],
    "en": ["en_GB", "en_US"],
}


def partition_of(token):
    """0 = dev, 1 = held-out: a stable hash of the lower-cased token."""
    return 1 if zlib.crc32(token.lower().encode()) % 3 == 0 else 0


class Gen:
    def __init__(self, part, seed):
        self.part = part
        self.R = random.Random(seed)
        g.R = self.R
        self.fakers = {loc: faker.Faker(loc) for locs in LOCALES.values() for loc in locs}
        for i, f in enumerate(self.fakers.values()):
            f.seed_instance(seed + i)

    def fk(self, lang):
        return self.fakers[self.R.choice(LOCALES[lang])]

    def _token(self, lang, method):
        for _ in range(200):
            v = getattr(self.fk(lang), method)()
            parts = re.split(r"[\s\-]", v)
            if all(partition_of(p) == self.part for p in parts if p):
                return v
        raise RuntimeError("no name in partition")

    def first(self, lang):
        return self._token(lang, "first_name")

    def last(self, lang):
        return self._token(lang, "last_name")

    def person(self, lang):
        return f"{self.first(lang)} {self.last(lang)}"

    # ------------------------------------------------------------- addresses
    def address(self, lang, multiline):
        """A postal address in one of the language's locales, as Faker formats it."""
        loc = self.R.choice(LOCALES[lang])
        f = self.fakers[loc]
        for _ in range(50):
            a = f.address()
            if loc == "en_US" and ("APO" in a or "FPO" in a or "DPO" in a):
                continue
            if loc.startswith("fr") and not re.match(r"^\d", a) and loc == "fr_FR":
                continue
            break
        if loc == "de_CH" or loc == "fr_CH":
            # Faker's Swiss towns are random surnames; keep the address, real-looking or not.
            pass
        if not multiline:
            sep = self.R.choice([", ", ", ", " "]) if not loc.startswith("en") else ", "
            a = a.replace("\n", sep)
        return a

    def street(self, lang):
        loc = self.R.choice(LOCALES[lang])
        f = self.fakers[loc]
        if loc == "it_IT":
            return f"{f.street_name()}, {f.building_number()}"
        if loc == "fr_FR":
            return f"{f.building_number()}, {f.street_name()}"
        if loc in ("en_GB", "en_US"):
            return f"{f.building_number()} {f.street_name()}"
        return f.street_address()

    # ------------------------------------------------------------- numbers
    def phone(self, lang):
        R = self.R
        d = g.digits
        forms = {
            "de": [
                lambda: f"+41 {R.choice(['44', '31', '61'])} {d(3)} {d(2)} {d(2)}",
                lambda: f"+49 {R.choice(['30', '89', '40'])} {d(8)}",
                lambda: f"+49{R.choice(['30', '89', '69'])}{d(8)}",
                lambda: f"+49 (0){R.choice(['30', '89', '211'])} {d(7)}",
                lambda: f"0{R.choice(['30', '89', '40'])} {d(3)} {d(4)}",
                lambda: f"+43 {R.choice(['1', '662', '512'])} {d(6)}",
                lambda: f"+43{R.choice(['1', '662'])}{d(7)}",
            ],
            "fr": [
                lambda: f"+33 (0){R.randint(1, 9)} {d(2)} {d(2)} {d(2)} {d(2)}",
                lambda: f"+33{R.randint(1, 9)}{d(8)}",
                lambda: f"0{R.randint(1, 9)}{d(8)}",
                lambda: f"+41 {R.choice(['22', '21', '32'])} {d(3)} {d(2)} {d(2)}",
                lambda: f"0{R.randint(1, 7)} {d(2)} {d(2)} {d(2)} {d(2)}",
            ],
            "it": [
                lambda: f"+39 0{R.choice(['2', '6', '11'])} {d(7)}",
                lambda: f"+39 3{d(2)} {d(7)}",
                lambda: f"+393{d(2)}{d(7)}",
                lambda: f"+390{R.choice(['2', '6'])}{d(8)}",
                lambda: f"+41 91 {d(3)} {d(2)} {d(2)}",
            ],
            "en": [
                lambda: f"+44 (0)20 {d(4)} {d(4)}",
                lambda: f"+44{R.choice(['20', '161', '131'])}{d(7)}",
                lambda: f"+44 7{d(3)} {d(6)}",
                lambda: f"({R.randint(201, 989)}) {R.randint(200, 999)}-{d(4)}",
                lambda: f"+1 {R.randint(201, 989)} {R.randint(200, 999)} {d(4)}",
                lambda: f"+1{R.randint(201, 989)}{R.randint(200, 999)}{d(4)}",
            ],
        }[lang]
        return R.choice(forms)()

    def jcb(self):
        if self.R.random() < 0.3:
            # The old 15-digit JCB ranges.
            return g.luhn_complete(self.R.choice(["2131", "1800"]), 15)
        n = g.luhn_complete(str(self.R.randint(3528, 3589)), 16)
        sep = self.R.choice(["", " ", "-"])
        return g.group(n, 4, sep) if sep else n

    def email(self, lang):
        return self.fk(lang).ascii_free_email()

    def dob(self, lang):
        R = self.R
        y, m, day = R.randint(1940, 2005), R.randint(1, 12), R.randint(1, 28)
        return R.choice([f"{day:02d}.{m:02d}.{y}", f"{y}-{m:02d}-{day:02d}", f"{day:02d}/{m:02d}/{y}"])


def slot_value(G, lang, key):
    """(text, entity type or None) for one {SLOT}."""
    R = G.R
    if key == "PER":
        return G.person(lang), "PERSON"
    if key == "PER_LC":
        return G.person(lang).lower(), "PERSON"
    if key == "PER_UC":
        return G.person(lang).upper(), "PERSON"
    if key == "FIRST":
        return G.first(lang), "PERSON"
    if key == "LAST":
        return G.last(lang), "PERSON"
    if key == "FIRST_IT":
        return G.first("it"), "PERSON"
    if key == "ADDR":
        return G.address(lang, False), "LOCATION"
    if key == "ADDR_ML":
        return G.address(lang, True), "LOCATION"
    if key == "STREET":
        return G.street(lang), "LOCATION"
    if key == "PHONE":
        return G.phone(lang), "PHONE_NUMBER"
    if key == "EMAIL":
        return G.email(lang), "EMAIL_ADDRESS"
    if key == "IBAN":
        return g.gen_iban(), "IBAN_CODE"
    if key == "CARD":
        return g.gen_card(), "CREDIT_CARD"
    if key == "JCB":
        return G.jcb(), "CREDIT_CARD"
    if key == "AHV":
        return g.gen_ahv(), "CH_AHV"
    if key == "UID":
        return g.gen_uid(), "CH_UID"
    if key == "IP":
        return g.gen_ip(), "IP_ADDRESS"
    if key == "DOB":
        return G.dob(lang), "DATE_TIME"
    if key == "NEG_DATE":
        return G.dob(lang), None
    if key == "NEG_NUM":
        return str(R.randint(100000, 99999999)), None
    if key == "NEG_AMOUNT":
        return R.choice([f"CHF {R.randint(100, 9999)}.{R.randint(0, 99):02d}", f"EUR {R.randint(10, 999)},{R.randint(0, 99):02d}"]), None
    if key == "DECOY_CITY":
        return G.fk(lang).city(), None
    raise KeyError(key)


TOKEN = re.compile(r"\[\[([A-Z_]+)\|(.*?)\]\]|\{([A-Z_]+)\}", re.S)


def render(G, template, lang):
    out, entities, pos = [], [], 0
    length = 0
    for m in TOKEN.finditer(template):
        lit = template[pos:m.start()]
        out.append(lit)
        length += len(lit)
        if m.group(1):
            text, kind = m.group(2), m.group(1)
        else:
            text, kind = slot_value(G, lang, m.group(3))
        if kind:
            entities.append({"type": kind, "start": length, "end": length + len(text)})
        out.append(text)
        length += len(text)
        pos = m.end()
    out.append(template[pos:])
    text = "".join(out)
    # "{FIRST} {LAST}" is one name: adjacent PERSON labels separated by one space are one span.
    merged = []
    for e in entities:
        last = merged[-1] if merged else None
        if last and last["type"] == e["type"] == "PERSON" and text[last["end"]:e["start"]] == " ":
            last["end"] = e["end"]
        else:
            merged.append(e)
    return text, merged


def main():
    which = sys.argv[1] if len(sys.argv) > 1 else "dev"
    if which == "dev":
        import faker_templates_dev as t
        G, reps = Gen(0, 20261203), 4
    elif which == "train":
        # More renderings of the dev templates (dev names, another seed) for the tagger.
        import faker_templates_dev as t
        G, reps = Gen(0, 5550123), 12
    elif which == "heldout":
        import faker_templates_heldout as t
        G, reps = Gen(1, 77120319), 4
    else:
        sys.exit("usage: faker_corpus.py dev|train|heldout")
    n = {}
    for rep in range(reps):
        for k, (lang, kind, tpl) in enumerate(t.TEMPLATES):
            text, ents = render(G, tpl, lang)
            i = n.get(lang, 0)
            n[lang] = i + 1
            rec = {"id": f"{which}-{lang}-{i:04d}", "lang": lang, "kind": kind, "template": k, "text": text, "entities": ents}
            print(json.dumps(rec, ensure_ascii=False))


if __name__ == "__main__":
    main()
