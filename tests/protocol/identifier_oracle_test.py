#!/usr/bin/python3
"""Cross-checks duanka's identifier canonical forms against independent implementations.

Usage: /usr/bin/python3 identifier_oracle_test.py PATH/TO/identifier_tool

Generates a few thousand cases per type with a fixed seed: valid and corrupted resident identity
numbers (stdnum.cn.ric), unified social credit codes (stdnum.cn.uscc), Luhn card numbers
(stdnum.luhn), mainland mobiles in many spellings plus foreign numbers (phonenumbers: valid
numbers of many regions, and numbers of every length for every country calling code), and
passports under every ISO 3166-1 alpha-3 code (iso-codes) and random three-letter codes. Every
case is fed to identifier_tool and must agree with the oracle on validity and canonical form.

Where protocol/identifiers.md deliberately differs from an oracle, the oracle's answer is adjusted
here by that documented rule, and the rule is named next to the adjustment:
  * cn-id: no birth-place (region code) check; birth year must be 1900..2100; 15-digit numbers
    are converted to 18.
  * uscc: positions 1-2 may be any character of the GB 32100 alphabet (stdnum wants digits).
  * phone: +86 numbers must be mobiles (landlines refused); mobiles need only 1[3-9] + 9 digits
    (no prefix allocation table); other numbers need a national-number length that
    libphonenumber calls possible (IS_POSSIBLE, not local-only) and at most 15 digits in all.
  * passport-icao: ICAO 9303 codes are ISO 3166-1 alpha-3 plus ICAO's issuing organisations and
    D for Germany (written DEU); nationality-only codes are refused.
Needs Debian's python3-stdnum, python3-phonenumbers and iso-codes, hence /usr/bin/python3.
"""

import datetime
import json
import random
import subprocess
import sys

import phonenumbers
from phonenumbers import PhoneNumber, PhoneNumberFormat, PhoneNumberType, ValidationResult
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE
from stdnum import luhn
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

SEED = 20241128
CASES_PER_TYPE = 3000

rng = random.Random(SEED)
DIGITS = "0123456789"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def full_width(text):
    """Full-width forms of ASCII '!'..'~' (U+FF01..U+FF5E), as Chinese input methods produce."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def random_digits(count):
    return "".join(rng.choice(DIGITS) for _ in range(count))


def is_ascii_digits(text):
    return all(c in DIGITS for c in text)


def whole_spellings(value):
    """Spellings of a value that every type must treat as the value itself."""
    return [
        value,
        "  " + value + " ",
        "\t" + value + "\r",
        "\u3000" + value + "\u3000",
        full_width(value),
    ]


class Cases:
    """Collects (type, value sent to the tool, expected canonical or None) and oracle notes."""

    def __init__(self):
        self.items = []
        self.counts = {}
        self.notes = []

    def add(self, id_type, value, expected):
        assert "\n" not in value, "a case must fit on one line"
        self.items.append((id_type, value, expected))
        self.counts[id_type] = self.counts.get(id_type, 0) + 1


# ---------------------------------------------------------------- cn-id (stdnum.cn.ric)

def cn_id_region_codes():
    """Six-digit region codes from stdnum's own database, so that for ids built on them stdnum's
    full check (including the birth place) applies too."""
    from stdnum import numdb

    return sorted(low for length, low, high, _, _ in numdb.get("cn/loc").prefixes
                  if length == 6 and low == high)


REAL_REGIONS = cn_id_region_codes()


def cn_id_oracle(ascii_value):
    """stdnum.cn.ric's answer adjusted by identifiers.md: no region check, years 1900..2100,
    15 digits converted to 18. Returns the canonical form or None."""
    number = ascii_value
    if len(number) == 15:
        if not is_ascii_digits(number):
            return None
        number = number[:6] + "19" + number[6:]
        number += ric.calc_check_digit(number + "0")
    number = ric.compact(number)
    if len(number) != 18 or not is_ascii_digits(number[:17]):
        return None
    if number[-1] != ric.calc_check_digit(number):
        return None
    try:
        birth = ric.get_birth_date(number)
    except ValidationError:
        return None
    if not 1900 <= birth.year <= 2100:  # identifiers.md: century bounds, not today's date
        return None
    return number


def random_date(first_year=1900, last_year=2100):
    start = datetime.date(first_year, 1, 1).toordinal()
    end = datetime.date(last_year, 12, 31).toordinal()
    return datetime.date.fromordinal(rng.randint(start, end))


def with_cn_id_check(first17):
    return first17 + ric.calc_check_digit(first17 + "0")


def cn_id_region():
    return rng.choice(REAL_REGIONS) if rng.random() < 0.7 else random_digits(6)


def valid_cn_id():
    return with_cn_id_check(cn_id_region() + random_date().strftime("%Y%m%d") + random_digits(3))


def corrupted_cn_id(valid):
    kind = rng.randrange(9)
    if kind == 0:  # one digit changed
        i = rng.randrange(17)
        return valid[:i] + rng.choice(DIGITS.replace(valid[i], "")) + valid[i + 1:]
    if kind == 1:  # neighbours swapped
        i = rng.randrange(16)
        return valid[:i] + valid[i + 1] + valid[i] + valid[i + 2:]
    if kind == 2:  # wrong check character
        return valid[:17] + rng.choice((DIGITS + "X").replace(valid[17], ""))
    if kind == 3:  # impossible date with a correct check character
        date = rng.choice(["19000229", "19990229", "20230230", "19851301", "19850001",
                           "19850100", "19850432", "19850631", "21000229", "20010229"])
        return with_cn_id_check(valid[:6] + date + valid[14:17])
    if kind == 4:  # real date outside 1900..2100 with a correct check character
        year = rng.choice([1899, 2101, rng.randint(1000, 1899), rng.randint(2101, 2999)])
        return with_cn_id_check(valid[:6] + "%04d0615" % year + valid[14:17])
    if kind == 5:  # a character dropped or added
        return valid[:-1] if rng.random() < 0.5 else valid + rng.choice(DIGITS)
    if kind == 6:  # a letter among the digits
        i = rng.randrange(17)
        return valid[:i] + rng.choice("ABOIxZ") + valid[i + 1:]
    if kind == 7:  # check letter other than X
        return valid[:17] + rng.choice("YZAB")
    return valid[:6] + " " + valid[6:]  # inner space: refused by rule


def first_generation_cn_id(valid_date):
    if valid_date:
        date = random_date(1900, 1999).strftime("%y%m%d")
    else:
        date = rng.choice(["000229", "990229", "851301", "850000", "850631", "850132"])
    return cn_id_region() + date + random_digits(3)


def add_cn_id_cases(cases):
    full_agreement = 0
    for _ in range(CASES_PER_TYPE // 6):
        valid = valid_cn_id()
        expected = cn_id_oracle(valid)
        assert expected == valid, "generator made an invalid cn-id"
        for spelling in (valid, valid.lower(), " " + valid, full_width(valid.lower())):
            cases.add("cn-id", spelling, expected)
        bad = corrupted_cn_id(valid)
        cases.add("cn-id", bad, cn_id_oracle(bad))
        if bad[:6] in REAL_REGIONS and len(bad) == 18 and cn_id_oracle(bad):
            assert ric.is_valid(bad), "stdnum refuses a cn-id we accept"
        if valid[:6] in REAL_REGIONS:
            # With a known region code the only remaining rule difference is the year range.
            assert ric.is_valid(valid)
            full_agreement += 1
        old = first_generation_cn_id(valid_date=rng.random() < 0.7)
        cases.add("cn-id", old, cn_id_oracle(old))
    cases.notes.append("cn-id: %d valid cases also pass stdnum's full check (region code known)"
                       % full_agreement)


# ---------------------------------------------------------------- uscc (stdnum.cn.uscc)

def uscc_oracle(ascii_value):
    """stdnum.cn.uscc's answer adjusted by identifiers.md: positions 1-2 may be letters of the
    alphabet (registration authorities N, Y, A ...), inner separators are refused."""
    number = ascii_value.upper()
    if len(number) != 18 or any(c not in USCC_ALPHABET for c in number):
        return None
    if not is_ascii_digits(number[2:8]):
        return None
    if number[-1] != uscc.calc_check_digit(number):
        return None
    if is_ascii_digits(number[:2]):
        assert uscc.is_valid(number), "stdnum refuses a uscc we accept"
    return number


def valid_uscc():
    head = rng.choice("159Y" if rng.random() < 0.9 else "NA8") + rng.choice("1239")
    body = head + random_digits(6) + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
    return body + uscc.calc_check_digit(body)


def corrupted_uscc(valid):
    kind = rng.randrange(6)
    if kind == 0:  # one character changed within the alphabet
        i = rng.randrange(18)
        return valid[:i] + rng.choice(USCC_ALPHABET.replace(valid[i], "")) + valid[i + 1:]
    if kind == 1:  # neighbours swapped
        i = rng.randrange(17)
        return valid[:i] + valid[i + 1] + valid[i] + valid[i + 2:]
    if kind == 2:  # a letter outside the alphabet
        i = rng.randrange(18)
        return valid[:i] + rng.choice("IOSVZ") + valid[i + 1:]
    if kind == 3:  # a letter in the administrative division code, check recomputed
        i = rng.randrange(2, 8)
        body = valid[:i] + rng.choice("ABCDEF") + valid[i + 1:17]
        return body + uscc.calc_check_digit(body)
    if kind == 4:  # a character dropped or added
        return valid[:-1] if rng.random() < 0.5 else valid + "0"
    return valid[:8] + "-" + valid[8:]  # inner separator: refused by rule


def add_uscc_cases(cases):
    for _ in range(CASES_PER_TYPE // 6):
        valid = valid_uscc()
        assert uscc_oracle(valid) == valid, "generator made an invalid uscc"
        for spelling in (valid, valid.lower(), "\u3000" + valid, full_width(valid.lower())):
            cases.add("uscc", spelling, valid)
        for _ in range(2):
            bad = corrupted_uscc(valid)
            cases.add("uscc", bad, uscc_oracle(bad) if "-" not in bad else None)


# ---------------------------------------------------------------- bank-card (stdnum.luhn)

def bank_card_oracle(digits):
    if not is_ascii_digits(digits) or not 12 <= len(digits) <= 19:
        return None
    return digits if luhn.is_valid(digits) else None


def grouped(digits, separator):
    return separator.join(digits[i:i + 4] for i in range(0, len(digits), 4))


def add_bank_card_cases(cases):
    for _ in range(CASES_PER_TYPE // 6):
        length = rng.randint(10, 21)
        prefix = rng.choice(["62", "4", "51", "37", "60", "35", ""])
        body = (prefix + random_digits(length))[: length - 1]
        card = body + luhn.calc_check_digit(body)
        expected = bank_card_oracle(card)
        for spelling in (card, grouped(card, " "), grouped(card, "-"), full_width(card)):
            cases.add("bank-card", spelling, expected)
        i = rng.randrange(len(card))
        changed = card[:i] + rng.choice(DIGITS.replace(card[i], "")) + card[i + 1:]
        cases.add("bank-card", changed, bank_card_oracle(changed))
        j = rng.randrange(len(card) - 1)
        swapped = card[:j] + card[j + 1] + card[j] + card[j + 2:]
        cases.add("bank-card", grouped(swapped, " "), bank_card_oracle(swapped))


# ---------------------------------------------------------------- phone (phonenumbers)

E164_MAX_DIGITS = 15


def phone_oracle(spelling):
    """phonenumbers' answer (region CN, E.164) adjusted by identifiers.md: mainland numbers must
    be mobiles; other numbers need at most 15 digits. Returns the canonical form or None."""
    try:
        number = phonenumbers.parse(spelling, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if number.country_code == 86:
        mobile = phonenumbers.number_type(number) in (
            PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
        return e164 if mobile else None
    return e164 if len(e164) - 1 <= E164_MAX_DIGITS else None


def length_oracle(country_code, national):
    """identifiers.md's rule for a foreign number, from the library's own length check:
    libphonenumber's IsPossibleNumberWithReason must say IS_POSSIBLE (local-only lengths are no
    E.164 numbers), and E.164 caps code and number at 15 digits."""
    number = PhoneNumber(country_code=country_code, national_number=int(national))
    possible = phonenumbers.is_possible_number_with_reason(number) == ValidationResult.IS_POSSIBLE
    e164 = "+%d%s" % (country_code, national)
    return e164 if possible and len(e164) - 1 <= E164_MAX_DIGITS else None


def is_assigned_country_code_prefix(digits):
    """Whether some leading 1, 2 or 3 digits of `digits` are a country calling code."""
    return any(int(digits[:n]) in COUNTRY_CODE_TO_REGION_CODE for n in range(1, 4))


def mainland_mobile_spellings(national):
    a, b, c = national[:3], national[3:7], national[7:]
    return [
        national,
        "+86" + national,
        "+86 %s %s %s" % (a, b, c),
        "+86-%s-%s-%s" % (a, b, c),
        "0086" + national,
        "0086 %s %s %s" % (a, b, c),
        "86" + national,
        "86 " + national,
        "(+86) %s-%s-%s" % (a, b, c),
        "(86)" + national,
        "(0086) " + national,
        "%s %s %s" % (a, b, c),
        "%s-%s-%s" % (a, b, c),
        full_width(national),
        full_width("+86" + national),
        "%s\u3000%s\u3000%s" % (a, b, c),
        " %s " % national,
    ]


def random_mobile():
    return "1" + rng.choice("3456789") + random_digits(9)


def corrupted_mobile(national):
    kind = rng.randrange(4)
    if kind == 0:
        i = rng.randrange(11)
        return national[:i] + national[i + 1:]
    if kind == 1:
        i = rng.randrange(12)
        return national[:i] + rng.choice(DIGITS) + national[i:]
    if kind == 2:
        return "1" + rng.choice("012") + national[2:]
    return "0" + national  # trunk zero before a mobile


FOREIGN_REGIONS = ["US", "CA", "GB", "DE", "FR", "IT", "ES", "NL", "RU", "JP", "KR", "HK", "MO",
                   "TW", "SG", "MY", "TH", "VN", "PH", "ID", "IN", "PK", "AU", "NZ", "BR", "MX",
                   "AR", "ZA", "NG", "EG", "AE", "SA", "TR", "KH", "LA", "MM", "NP", "KZ", "MN",
                   "NU", "TK", "SH", "FK"]


def random_foreign_number(region, number_type):
    """A random number of the given region and type that phonenumbers considers valid."""
    example = phonenumbers.example_number_for_type(region, number_type)
    if example is None:
        return None
    national = str(example.national_number)
    for _ in range(50):
        keep = max(1, len(national) - rng.randint(2, 6))
        candidate = national[:keep] + random_digits(len(national) - keep)
        number = phonenumbers.parse("+%d%s" % (example.country_code, candidate))
        if phonenumbers.is_valid_number(number):
            return number
    return None


def add_phone_cases(cases):
    unallocated = 0
    while cases.counts.get("phone", 0) < CASES_PER_TYPE:
        national = random_mobile()
        expected = phone_oracle(national)
        if expected is None:
            # An unallocated prefix (154, 140 ...): identifiers.md accepts all of 1[3-9] so that
            # canonical forms do not depend on an allocation table; the format must still agree.
            number = phonenumbers.parse(national, "CN")
            cases.add("phone", national, phonenumbers.format_number(number, PhoneNumberFormat.E164))
            unallocated += 1
            continue
        for spelling in rng.sample(mainland_mobile_spellings(national), 6):
            cases.add("phone", spelling, expected)
        bad = corrupted_mobile(national)
        cases.add("phone", bad, phone_oracle(bad))
        cases.add("phone", "+86 " + bad, phone_oracle("+86 " + bad))
    for _ in range(40):
        landline = rng.choice(["10", "21", "20", "755", "571"]) + random_digits(8)
        if phone_oracle("+86" + landline) is None:
            cases.add("phone", "+86 " + landline, None)
    foreign = 0
    below_floor = 0
    for region in FOREIGN_REGIONS:
        for number_type in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE):
            for _ in range(8):
                number = random_foreign_number(region, number_type)
                if number is None:
                    continue
                e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
                if len(e164) - 1 < 8:
                    below_floor += 1  # refused before issue 12; must be accepted now
                international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
                national = str(number.national_number)
                if number.italian_leading_zero:
                    national = "0" * (number.number_of_leading_zeros or 1) + national
                parenthesised = "(+%d) %s" % (number.country_code, national)
                too_long = e164 + random_digits(16 - (len(e164) - 1))  # E.164 allows 15
                for spelling in (e164, international, parenthesised, full_width(e164), too_long):
                    cases.add("phone", spelling, phone_oracle(spelling))
                    foreign += 1
    # Every length from 1 to 17 national digits for every calling code: the lengths table in
    # protocol/ must be libphonenumber's, code by code (a stale table fails here).
    by_length = 0
    possible = 0
    for country_code in sorted(COUNTRY_CODE_TO_REGION_CODE):
        if country_code == 86:
            continue  # mainland numbers: the mobile rule above
        for length in range(1, 18):
            national = rng.choice("123456789") + random_digits(length - 1)
            expected = length_oracle(country_code, national)
            possible += expected is not None
            spelling = "+%d %s" % (country_code, national)
            cases.add("phone", spelling if rng.random() < 0.5 else spelling.replace(" ", ""),
                      expected)
            by_length += 1
    # Unassigned country codes: libphonenumber cannot parse them at all.
    unassigned = 0
    for prefix in range(100, 1000):  # three digits: a shorter one could begin an assigned code
        digits = str(prefix)
        if is_assigned_country_code_prefix(digits):
            continue
        number = digits + random_digits(max(1, 10 - len(digits)))
        try:
            phonenumbers.parse("+" + number)
            sys.exit("identifier_oracle: phonenumbers parsed an unassigned code +" + digits)
        except phonenumbers.NumberParseException:
            pass
        cases.add("phone", "+" + number, None)
        unassigned += 1
    cases.notes.append("phone: %d foreign cases in %d regions (%d with under 8 digits, which "
                       "libphonenumber accepts and so do we), %d mainland mobiles with an "
                       "unallocated prefix (accepted by rule), %d cases of every length for %d "
                       "calling codes (%d possible), %d unassigned calling codes"
                       % (foreign, len(FOREIGN_REGIONS), below_floor, unallocated, by_length,
                          len(COUNTRY_CODE_TO_REGION_CODE) - 1, possible, unassigned))


# ---------------------------------------------------------------- passport-icao (iso-codes)

ISO_3166_JSON = "/usr/share/iso-codes/json/iso_3166-1.json"

# ICAO Doc 9303 Part 3, written out here from the document rather than from protocol/, so that a
# slip in either shows: organisations that issue travel documents (and RKS, printed on Kosovo's
# passports), and codes used only for nationalities.
ICAO_ORGANISATIONS = {"EUE", "UNA", "UNK", "UNO", "XBA", "XCC", "XCE", "XCO", "XDC", "XEC", "XES",
                      "XIM", "XMP", "XOM", "XPO", "RKS"}
ICAO_NATIONALITY_ONLY = {"GBD", "GBN", "GBO", "GBP", "GBS", "XXA", "XXB", "XXC", "XXX"}
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ALNUM = DIGITS + LETTERS


def iso_alpha3_codes():
    with open(ISO_3166_JSON, encoding="utf-8") as f:
        return {c["alpha_3"] for c in json.load(f)["3166-1"]}


def passport_icao_oracle(state, number):
    state = state.upper()
    if state == "D":
        state = "DEU"
    if state not in ISO_ALPHA3 and state not in ICAO_ORGANISATIONS:
        return None
    if not 5 <= len(number) <= 20 or any(c not in ALNUM for c in number.upper()):
        return None
    return state + ":" + number.upper()


def random_passport_number():
    return "".join(rng.choice(ALNUM) for _ in range(rng.randint(5, 12)))


def add_passport_icao_cases(cases):
    codes = sorted(ISO_ALPHA3 | ICAO_ORGANISATIONS) + ["D"]
    for state in codes:
        number = random_passport_number()
        expected = passport_icao_oracle(state, number)
        assert expected is not None, state
        for spelling in (state + ":" + number, state.lower() + ":" + number.lower(),
                         full_width(state + ":" + number)):
            cases.add("passport-icao", spelling, expected)
        cases.add("passport-icao", state + number, None)  # no colon: no issuing state
        cases.add("passport-icao", state + ":" + number[:4], None)  # number too short
    for state in sorted(ICAO_NATIONALITY_ONLY) + ["UTO"]:
        cases.add("passport-icao", state + ":" + random_passport_number(), None)
    refused_random = 0
    while cases.counts["passport-icao"] < CASES_PER_TYPE:
        state = "".join(rng.choice(LETTERS) for _ in range(rng.choice([1, 2, 3, 3, 3, 4])))
        number = random_passport_number()
        expected = passport_icao_oracle(state, number)
        if state.upper() in ICAO_NATIONALITY_ONLY:
            expected = None
        refused_random += expected is None
        cases.add("passport-icao", state + ":" + number, expected)
    cases.notes.append("passport-icao: %d ISO 3166-1 codes and %d ICAO organisations accepted, "
                       "%d random codes refused"
                       % (len(ISO_ALPHA3), len(ICAO_ORGANISATIONS), refused_random))


ISO_ALPHA3 = iso_alpha3_codes()


# ---------------------------------------------------------------- the run

def pre_normalisation_spellings(cases):
    """Every type: the whole-value spellings must agree with the plain value."""
    plain = [(t, v, e) for (t, v, e) in cases.items if e is not None and v == e]
    for id_type, value, expected in rng.sample(plain, min(300, len(plain))):
        for spelling in whole_spellings(value)[1:]:
            cases.add(id_type, spelling, expected)


def run_tool(tool, items):
    payload = "".join("%s\t%s\n" % (t, v) for (t, v, _) in items).encode("utf-8")
    done = subprocess.run([tool], input=payload, stdout=subprocess.PIPE, check=True)
    lines = done.stdout.decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != len(items):
        sys.exit("identifier_oracle: FAIL: %d answers for %d cases" % (len(lines), len(items)))
    return lines


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: identifier_oracle_test.py PATH/TO/identifier_tool")
    cases = Cases()
    add_cn_id_cases(cases)
    add_uscc_cases(cases)
    add_bank_card_cases(cases)
    add_phone_cases(cases)
    add_passport_icao_cases(cases)
    pre_normalisation_spellings(cases)

    answers = run_tool(sys.argv[1], cases.items)
    disagreements = []
    for (id_type, value, expected), answer in zip(cases.items, answers):
        status, _, detail = answer.partition("\t")
        ours = detail if status == "OK" else None
        if ours != expected:
            disagreements.append((id_type, value, expected, answer))

    for note in cases.notes:
        print("identifier_oracle: " + note)
    for id_type, value, expected, answer in disagreements[:25]:
        print("DISAGREE %s %r: oracle %s, tool %s"
              % (id_type, value, expected if expected else "refuses", answer), file=sys.stderr)
    valid = sum(1 for (_, _, e) in cases.items if e is not None)
    per_type = ", ".join("%s %d" % kv for kv in sorted(cases.counts.items()))
    summary = ("%d cases (%s; %d valid, %d invalid), %d disagreements, seed %d"
               % (len(cases.items), per_type, valid, len(cases.items) - valid,
                  len(disagreements), SEED))
    if disagreements:
        print("identifier_oracle: FAIL: " + summary, file=sys.stderr)
        return 1
    print("identifier_oracle: PASS: " + summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
