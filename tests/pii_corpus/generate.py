#!/usr/bin/env python3
"""Generate the labeled PII corpus (tests/pii_corpus/corpus.jsonl).

Snippets are hand-written templates in German, French, Italian and English (client letters,
e-mails, invoices, chat requests, notes) with inline labels. Identifiers are synthetic but
checksum-valid, computed here by an implementation independent from the Rust validators.
Hard negatives (order and invoice numbers, versions, non-birth dates, Luhn failures, amounts,
phone-like ids, GUIDs, hashes, URLs) are written unlabeled into the same templates.

Markup: [[TYPE|literal text]] labels a literal span; {KEY} is replaced by a generated value
(labeled by the type in GEN, or unlabeled for NEG_* keys). Run: python3 generate.py > corpus.jsonl
Deterministic (fixed seed). Licence: part of auditgate, Apache-2.0.
"""
import json
import random
import re
import string

R = random.Random(20261123)

# ---------------------------------------------------------------- identifiers

def mod97(s):
    return int("".join(str(int(c, 36)) for c in s)) % 97

def iban(cc, bban):
    check = 98 - mod97(bban + cc + "00")
    return f"{cc}{check:02d}{bban}"

def digits(n):
    return "".join(R.choice(string.digits) for _ in range(n))

def group(s, n=4, sep=" "):
    return sep.join(s[i:i + n] for i in range(0, len(s), n))

def gen_iban():
    cc = R.choice(["CH", "CH", "CH", "DE", "DE", "FR", "IT", "AT", "LI", "GB"])
    bban = {
        "CH": lambda: digits(17), "LI": lambda: digits(17), "DE": lambda: digits(18),
        "FR": lambda: digits(23), "AT": lambda: digits(16),
        "IT": lambda: R.choice(string.ascii_uppercase) + digits(22),
        "GB": lambda: "".join(R.choice(string.ascii_uppercase) for _ in range(4)) + digits(14),
    }[cc]()
    v = iban(cc, bban)
    return group(v) if R.random() < 0.75 else v

def luhn_complete(prefix, length):
    body = prefix + digits(length - len(prefix) - 1)
    for d in string.digits:
        s = body + d
        tot = 0
        for i, c in enumerate(reversed(s)):
            x = int(c)
            if i % 2 == 1:
                x *= 2
                if x > 9:
                    x -= 9
            tot += x
        if tot % 10 == 0:
            return s
    raise AssertionError

def gen_card():
    kind = R.choice(["visa", "visa", "mc", "mc2", "amex"])
    if kind == "amex":
        n = luhn_complete(R.choice(["34", "37"]), 15)
        sep = R.choice([" ", ""])
        return f"{n[:4]}{sep}{n[4:10]}{sep}{n[10:]}"
    prefix = {"visa": "4", "mc": str(R.randint(51, 55)), "mc2": str(R.randint(2221, 2720))}[kind]
    n = luhn_complete(prefix, 16)
    sep = R.choice([" ", " ", "-", ""])
    return group(n, 4, sep) if sep else n

def bad_card():
    n = luhn_complete("4", 16)
    n = n[:-1] + str((int(n[-1]) + 1) % 10)
    return group(n)

def ean13_complete(body12):
    s = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body12))
    return body12 + str((10 - s % 10) % 10)

def gen_ahv():
    n = ean13_complete("756" + digits(9))
    return f"{n[:3]}.{n[3:7]}.{n[7:11]}.{n[11:]}" if R.random() < 0.85 else n

def bad_ahv():
    n = ean13_complete("756" + digits(9))
    n = n[:-1] + str((int(n[-1]) + 3) % 10)
    return f"{n[:3]}.{n[3:7]}.{n[7:11]}.{n[11:]}"

def gen_uid():
    while True:
        d = digits(8)
        s = sum(int(c) * w for c, w in zip(d, [5, 4, 3, 2, 7, 6, 5, 4]))
        c = (11 - s % 11) % 11
        if c != 10:
            n = d + str(c)
            return f"CHE-{n[:3]}.{n[3:6]}.{n[6:]}"

def iso7064(body):
    p = 10
    for c in body:
        s = (int(c) + p) % 10 or 10
        p = (s * 2) % 11
    return str((11 - p) % 10)

def gen_vat():
    cc = R.choice(["DE", "DE", "AT", "FR", "IT"])
    if cc == "DE":
        b = str(R.randint(1, 9)) + digits(7)
        return "DE" + b + iso7064(b)
    if cc == "AT":
        d = digits(7)
        s = 0
        for i, c in enumerate(d):
            v = int(c)
            s += (v * 2 // 10 + v * 2 % 10) if i % 2 == 1 else v
        return "ATU" + d + str((10 - (s + 4) % 10) % 10)
    if cc == "FR":
        siren = luhn_complete(str(R.randint(1, 9)), 9)
        return f"FR{(12 + 3 * (int(siren) % 97)) % 97:02d}{siren}"
    return "IT" + luhn_complete("0" + str(R.randint(1, 9)), 11)

def gen_detax():
    while True:
        d = str(R.randint(1, 9)) + digits(9)
        counts = [d.count(c) for c in set(d)]
        rep = [c for c in counts if c > 1]
        if len(rep) == 1 and rep[0] in (2, 3) and not any(d[i] == d[i+1] == d[i+2] for i in range(8)):
            n = d + iso7064(d)
            return R.choice([n, f"{n[:2]} {n[2:5]} {n[5:8]} {n[8:]}"])

def gen_nir():
    body = str(R.choice([1, 2])) + f"{R.randint(50, 99):02d}{R.randint(1, 12):02d}{R.randint(1, 95):02d}" + digits(3) + digits(3)
    key = 97 - int(body) % 97
    n = body + f"{key:02d}"
    return f"{n[0]} {n[1:3]} {n[3:5]} {n[5:7]} {n[7:10]} {n[10:13]} {n[13:]}" if R.random() < 0.7 else n

ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23]

def gen_cf():
    letters = "".join(R.choice("BCDFGLMNPRSTVZ") for _ in range(6))
    body = letters + f"{R.randint(40, 99):02d}" + R.choice("ABCDEHLMPRST") + f"{R.randint(1, 71):02d}" + R.choice("ABCDEFGHLM") + digits(3)
    s = 0
    for i, c in enumerate(body):
        idx = int(c) if c.isdigit() else ord(c) - 65
        s += ODD[idx] if i % 2 == 0 else idx
    return body + chr(65 + s % 26)

NIF = "TRWAGMYFPDXBNJZSQVHLCKE"

def gen_nif():
    if R.random() < 0.6:
        n = R.randint(10000000, 99999999)
        return f"{n}{NIF[n % 23]}"
    lead = R.choice("XYZ")
    d = digits(7)
    return f"{lead}{d}{NIF[int(str('XYZ'.index(lead)) + d) % 23]}"

def gen_nino():
    first = R.choice("ABCEGHJKLMPRSTWXYZ")
    second = R.choice("ABCEGHJKLMNPRSTWXYZ")
    if first + second in ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ"):
        second = "A"
    d = digits(6)
    suffix = R.choice("ABCD")
    return R.choice([f"{first}{second} {d[:2]} {d[2:4]} {d[4:]} {suffix}", f"{first}{second}{d}{suffix}"])

def gen_nhs():
    while True:
        d = digits(9)
        s = sum(int(c) * (10 - i) for i, c in enumerate(d))
        c = 11 - s % 11
        if c == 11:
            c = 0
        if c != 10:
            n = d + str(c)
            return f"{n[:3]} {n[3:6]} {n[6:]}"

def gen_ssn():
    area = R.choice([x for x in range(1, 900) if x != 666])
    return f"{area:03d}-{R.randint(1, 99):02d}-{R.randint(1, 9999):04d}"

def gen_ip():
    if R.random() < 0.8:
        return ".".join(str(x) for x in [R.choice([85, 91, 145, 178, 193, 212, 10, 192]), R.randint(0, 255), R.randint(0, 255), R.randint(1, 254)])
    return R.choice(["2001:db8::8a2e:370:7334", "fe80::1ff:fe23:4567:890a", "2a02:1210:2e3c:500::1", "2001:620:0:ff::2"])

PHONES = [
    lambda: f"+41 {R.choice(['44', '43', '31', '61', '22', '21', '91', '41'])} {digits(3)} {digits(2)} {digits(2)}",
    lambda: f"0{R.choice(['44', '31', '61', '22', '21', '91'])} {digits(3)} {digits(2)} {digits(2)}",
    lambda: f"0{R.choice(['76', '77', '78', '79'])} {digits(3)} {digits(2)} {digits(2)}",
    lambda: f"+41 {R.choice(['76', '78', '79'])} {digits(3)} {digits(2)} {digits(2)}",
    lambda: f"+49 {R.choice(['30', '89', '40', '69'])} {digits(8)}",
    lambda: f"0{R.choice(['30', '89', '40', '221'])} {digits(7)}",
    lambda: f"0{R.choice(['171', '151', '160'])} {digits(7)}",
    lambda: f"+43 1 {digits(3)} {digits(4)}",
    lambda: f"0664 {digits(7)}",
    lambda: f"+33 {R.randint(1, 9)} {digits(2)} {digits(2)} {digits(2)} {digits(2)}",
    lambda: f"0{R.randint(1, 7)} {digits(2)} {digits(2)} {digits(2)} {digits(2)}",
    lambda: f"+39 0{R.choice(['6', '2', '11'])} {digits(4)} {digits(4)}",
    lambda: f"3{R.randint(20, 49)} {digits(3)} {digits(4)}",
    lambda: f"+39 3{R.randint(20, 49)} {digits(3)} {digits(4)}",
    lambda: f"+423 {R.randint(2, 3)}{digits(2)} {digits(2)} {digits(2)}",
    lambda: f"+44 20 {R.randint(7, 8)}{digits(3)} {digits(4)}",
    lambda: f"07{R.randint(400, 999)} {digits(6)}",
    lambda: f"({R.randint(201, 989)}) {R.randint(201, 989)}-{digits(4)}",
    lambda: f"+1 {R.randint(201, 989)}-{R.randint(201, 989)}-{digits(4)}",
    lambda: f"+41 (0){R.choice(['44', '61'])} {digits(3)} {digits(2)} {digits(2)}",
]

def gen_phone():
    return R.choice(PHONES)()

MONTHS = {
    "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"],
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"],
    "it": ["gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"],
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"],
}

def gen_birth(lang):
    d, m, y = R.randint(1, 28), R.randint(1, 12), R.randint(1940, 2005)
    style = R.random()
    if style < 0.5:
        return f"{d:02d}.{m:02d}.{y}" if lang != "en" else f"{d:02d}/{m:02d}/{y}"
    if lang == "en":
        return f"{MONTHS['en'][m - 1]} {d}, {y}" if style < 0.8 else f"{d} {MONTHS['en'][m - 1]} {y}"
    if lang == "de":
        return f"{d}. {MONTHS['de'][m - 1]} {y}"
    return f"{d} {MONTHS[lang][m - 1]} {y}"

def gen_passport():
    return R.choice(["X", "S", "C", "P"]) + digits(7)

def gen_idcard():
    return R.choice(["C", "E", "T", "L"]) + digits(7)

GIVEN = [
    "Anna", "Thomas", "Reto", "Beat", "Ursula", "Daniel", "Sandra", "Marco", "Luca", "Giulia", "Chiara",
    "Claire", "Sophie", "Nicolas", "Pierre", "Isabelle", "James", "Sarah", "Emily", "Oliver",
    "Luzia", "Gian-Andrea", "Séverine", "Cyrill", "Ottilia", "Fadri", "Mirjam", "Noémie", "Ludovic",
    "Damiano", "Ornella", "Graziella", "Aidan", "Siobhan", "Brigitta", "Urban", "Jolanda",
]
SUR = [
    "Müller", "Meier", "Keller", "Rossi", "Bianchi", "Dupont", "Rochat", "Smith", "Taylor", "Brunner",
    "Zgraggen", "Inauen", "Ruckstuhl", "Cavadini", "Lepori", "Bourquin", "Rappaz", "Schwendimann",
    "Tschopp", "Odermatt", "Häfliger", "Zbinden", "Niederberger", "Gisler", "Pfister", "Gnägi",
    "Fontanella", "Quadri", "Delacrétaz", "Mottier", "Crettenand", "Fitzgerald", "Ashworth",
]

def gen_name():
    return f"{R.choice(GIVEN)} {R.choice(SUR)}"

STREET_DE = ["Bahnhofstrasse", "Seestrasse", "Hauptstrasse", "Dorfstrasse", "Kirchgasse", "Rosenweg",
             "Marktplatz", "Zürcherstrasse", "Badenerstrasse", "Musterstraße", "Goethestraße", "Schillerstraße",
             "Lindenallee", "Rebbergstrasse", "Spitalgasse", "Hauptplatz", "Bundesplatz", "Unterer Graben"]
STREET_FR = ["Rue du Rhône", "Avenue de la Gare", "Chemin des Vignes", "Rue de Lausanne", "Route de Genève",
             "Rue de la Confédération", "Avenue d'Ouchy", "Place du Marché"]
STREET_IT = ["Via Nassa", "Via Roma", "Corso Buenos Aires", "Viale Stefano Franscini", "Piazza della Riforma",
             "Via Cantonale", "Via Giuseppe Motta", "Corso Vittorio Emanuele"]
TOWNS_CH = ["8001 Zürich", "3011 Bern", "4051 Basel", "6003 Luzern", "9000 St. Gallen", "8400 Winterthur",
            "6300 Zug", "8634 Hombrechtikon", "3800 Interlaken", "6440 Brunnen", "8953 Dietikon", "5400 Baden"]
TOWNS_ROM = ["1204 Genève", "1003 Lausanne", "1950 Sion", "2000 Neuchâtel", "1880 Bex", "1700 Fribourg", "1260 Nyon"]
TOWNS_TI = ["6900 Lugano", "6500 Bellinzona", "6600 Locarno", "6850 Mendrisio", "6982 Agno"]
TOWNS_DE = ["10115 Berlin", "80331 München", "20095 Hamburg", "60311 Frankfurt am Main", "50667 Köln", "79098 Freiburg"]
TOWNS_AT = ["1010 Wien", "8010 Graz", "5020 Salzburg", "6020 Innsbruck"]
TOWNS_FR = ["75002 Paris", "69002 Lyon", "74000 Annecy", "13001 Marseille"]
TOWNS_IT = ["00184 Roma", "20121 Milano", "10121 Torino", "22100 Como"]

def addr(lang):
    n = R.randint(1, 120)
    sep = R.choice([", ", ", ", "\n"])
    if lang == "de":
        town = R.choice(TOWNS_CH + TOWNS_CH + TOWNS_DE + TOWNS_AT)
        return f"{R.choice(STREET_DE)} {n}{R.choice(['', '', 'a'])}{sep}{town}"
    if lang == "fr":
        if R.random() < 0.3:
            return f"{n} {R.choice(['rue de la Paix', 'avenue Victor Hugo', 'boulevard Haussmann'])}{sep}{R.choice(TOWNS_FR)}"
        return f"{R.choice(STREET_FR)} {n}{sep}{R.choice(TOWNS_ROM)}"
    if lang == "it":
        return f"{R.choice(STREET_IT)} {n}{sep}{R.choice(TOWNS_TI + TOWNS_IT)}"
    return f"{R.choice(STREET_DE + STREET_FR)} {n}{sep}{R.choice(TOWNS_CH + TOWNS_ROM)}"

def gen_email():
    g, s = R.choice(GIVEN), R.choice(SUR)
    local = R.choice([f"{g}.{s}", f"{g[0]}.{s}", f"{s}{R.randint(1, 99)}", f"{g}"]).lower()
    local = local.translate(str.maketrans("äöüéèàç", "aoueeac")).replace(" ", "").replace("-", "")
    return f"{local}@{R.choice(['bluewin.ch', 'gmx.ch', 'example.ch', 'treuhand-muster.ch', 'gmail.com', 'orange.fr', 'libero.it', 'outlook.com'])}"

# Unlabeled hard negatives.
NEG = {
    "NEG_ORDER": lambda: R.choice([f"4500{digits(6)}", f"BE-{digits(6)}", f"{digits(8)}", f"PO {digits(7)}"]),
    "NEG_INVOICE": lambda: R.choice([f"2024-{digits(5)}", f"RE-2025-{digits(5)}", f"F{digits(6)}", f"{digits(6)}/24"]),
    "NEG_VERSION": lambda: R.choice([f"{R.randint(1, 4)}.{R.randint(0, 20)}.{R.randint(0, 9)}", f"10.0.{R.randint(17000, 22000)}.{R.randint(100, 3000)}", f"1.{R.randint(0, 9)}.{R.randint(0, 9)}.{R.randint(0, 9)}"]),
    "NEG_DATE": lambda: R.choice([f"{R.randint(1, 28):02d}.{R.randint(1, 12):02d}.{R.randint(2023, 2026)}", f"{R.randint(2023, 2026)}-{R.randint(1, 12):02d}-{R.randint(1, 28):02d}", f"{R.randint(1, 28)}.{R.randint(1, 12)}.{R.randint(2023, 2026)}"]),
    "NEG_AMOUNT": lambda: R.choice([f"CHF {R.randint(1, 99)}'{digits(3)}.{R.choice(['00', '50', '85'])}", f"EUR {R.randint(1, 99)}.{digits(3)},{digits(2)}", f"{R.randint(100, 9999)}.{digits(2)} CHF", f"Fr. {R.randint(10, 999)}.–"]),
    "NEG_CARD": bad_card,
    "NEG_AHV": bad_ahv,
    "NEG_GUID": lambda: "-".join("".join(R.choice("0123456789abcdef") for _ in range(k)) for k in (8, 4, 4, 4, 12)),
    "NEG_HASH": lambda: "".join(R.choice("0123456789abcdef") for _ in range(64)),
    "NEG_URL": lambda: f"https://shop.example.com/orders/{digits(16)}?ref={digits(10)}",
    "NEG_TICKET": lambda: f"#{digits(10)}",
    "NEG_JWT": lambda: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI" + "".join(R.choice(string.ascii_letters + string.digits) for _ in range(30)) + "." + "".join(R.choice(string.ascii_letters + string.digits + "_-") for _ in range(43)),
}

GEN = {
    "IBAN": ("IBAN_CODE", gen_iban), "CARD": ("CREDIT_CARD", gen_card), "AHV": ("CH_AHV", gen_ahv),
    "UID": ("CH_UID", gen_uid), "VAT": ("EU_VAT", gen_vat), "DETAX": ("DE_TAX_ID", gen_detax),
    "NIR": ("FR_NIR", gen_nir), "CF": ("IT_FISCAL_CODE", gen_cf), "NIF": ("ES_NIF", gen_nif),
    "NINO": ("UK_NINO", gen_nino), "NHS": ("UK_NHS", gen_nhs), "SSN": ("US_SSN", gen_ssn),
    "IP": ("IP_ADDRESS", gen_ip), "PHONE": ("PHONE_NUMBER", gen_phone), "EMAIL": ("EMAIL_ADDRESS", gen_email),
    "NAME": ("PERSON", gen_name), "GIVEN": ("PERSON", lambda: R.choice(GIVEN)), "SUR": ("PERSON", lambda: R.choice(SUR)),
    "PASSPORT": ("PASSPORT", gen_passport), "IDCARD": ("ID_CARD", gen_idcard),
}

TOKEN = re.compile(r"\[\[([A-Z_]+)\|([^\]]+)\]\]|\{([A-Z_]+)\}")

def render(template, lang):
    out, ents, pos = [], [], 0
    length = 0
    for m in TOKEN.finditer(template):
        lit = template[pos:m.start()]
        out.append(lit)
        length += len(lit)
        if m.group(1):
            typ, val = m.group(1), m.group(2)
        else:
            key = m.group(3)
            if key in NEG:
                typ, val = None, NEG[key]()
            elif key == "ADDR":
                typ, val = "LOCATION", addr(lang)
            elif key == "BIRTH":
                typ, val = "DATE_TIME", gen_birth(lang)
            else:
                typ, fn = GEN[key]
                val = fn()
        if typ:
            ents.append({"type": typ, "start": length, "end": length + len(val)})
        out.append(val)
        length += len(val)
        pos = m.end()
    out.append(template[pos:])
    return "".join(out), ents

import importlib  # noqa: E402
import sys  # noqa: E402

def main():
    # Templates live in separate files for readability: templates.py (the corpus, two variants
    # per entry) or, with --heldout, heldout_templates.py (one rendering each).
    heldout = "--heldout" in sys.argv
    module = importlib.import_module("heldout_templates" if heldout else "templates")
    n = 0
    for lang, kind, variants, template in module.TEMPLATES:
        for v in range(variants if heldout else variants * 2):
            text, ents = render(template, lang)
            print(json.dumps({"id": f"{lang}-{n:04d}", "lang": lang, "kind": kind, "text": text, "entities": ents}, ensure_ascii=False))
            n += 1

if __name__ == "__main__":
    main()
