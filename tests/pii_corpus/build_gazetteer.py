#!/usr/bin/env python3
"""Write the name gazetteers of the person tagger (src/pii/model/given_names.txt, surnames.txt).

Source: the person providers of Faker 40.54.0 (MIT licence, https://pypi.org/project/Faker/) for
de_CH, de_DE, de_AT, fr_CH, fr_FR, it_IT, en_GB and en_US: given and family names compiled by
Faker's contributors from public name statistics. All of them are kept. The held-out set is
rendered from the third of these names the development data never uses (faker_corpus.partition_of),
and is reported twice: as shipped, and with the gazetteers switched off, which measures names that
are in no list (tests/it/pii_quality.rs).

Run: cd tests/pii_corpus && python3 build_gazetteer.py   (deterministic, sorted output)
Licence of this script: part of auditgate, Apache-2.0; the lists keep Faker's MIT licence.
"""
import os
from importlib import import_module

LOCALES = ["de_CH", "de_DE", "de_AT", "fr_CH", "fr_FR", "it_IT", "en_GB", "en_US"]


def names(provider, attrs):
    out = set()
    for a in attrs:
        v = getattr(provider, a, None)
        if v:
            out |= set(v.keys() if isinstance(v, dict) else v)
    return out


def main():
    given, surnames = set(), set()
    for loc in LOCALES:
        p = import_module(f"faker.providers.person.{loc}").Provider
        given |= names(p, ["first_names", "first_names_male", "first_names_female"])
        surnames |= names(p, ["last_names"])
    keep = lambda s: sorted({n.lower() for n in s if len(n) >= 2})
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "..", "src", "pii", "model")
    header = "# Faker 40.54.0 person providers (MIT), all names; see tests/pii_corpus/build_gazetteer.py\n"
    for name, data in [("given_names.txt", keep(given)), ("surnames.txt", keep(surnames))]:
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            f.write(header)
            f.write("\n".join(data) + "\n")
        print(name, len(data))


if __name__ == "__main__":
    main()
