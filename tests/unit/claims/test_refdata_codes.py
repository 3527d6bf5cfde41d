import pytest

from refdata import codes


def npi_by_the_24_rule(first_nine: str) -> int:
    # CMS's shortcut: Luhn over the 9 digits alone, plus 24 for the 80840 prefix.
    total = 24
    for position, char in enumerate(reversed(first_nine)):
        digit = int(char)
        if position % 2 == 0:
            digit = digit * 2 - 9 if digit * 2 > 9 else digit * 2
        total += digit
    return (10 - total % 10) % 10


@pytest.mark.parametrize("npi", ["1234567893", "1245319599", "1003000126", "1500000009", "9876543213"])
def test_valid_npis(npi):
    assert codes.is_valid_npi(npi)
    assert npi_by_the_24_rule(npi[:9]) == int(npi[9])


@pytest.mark.parametrize(
    "npi",
    [
        "1234567890",  # wrong check digit
        "1234567894",
        "1245319598",
        "1234567839",  # transposed digits
        "123456789",  # too short
        "12345678931",  # too long
        "123456789A",
        "",
        " 1234567893",
    ],
)
def test_invalid_npis(npi):
    assert not codes.is_valid_npi(npi)


@pytest.mark.parametrize("first_nine", ["000000000", "123456789", "999999999", "100300012", "543219876"])
def test_npi_check_digit_agrees_with_the_cms_shortcut(first_nine):
    assert codes.npi_check_digit(first_nine) == npi_by_the_24_rule(first_nine)


def test_npi_check_digit_needs_nine_digits():
    with pytest.raises(ValueError):
        codes.npi_check_digit("12345678")


@pytest.mark.parametrize(
    ("code", "status", "dotted"),
    [
        ("E11.9", "billable", "E11.9"),
        ("E119", "billable", "E11.9"),
        ("e11.9", "billable", "E11.9"),
        (" E11.65 ", "billable", "E11.65"),
        ("I10", "billable", "I10"),  # a category without subdivisions is billable
        ("S72.001A", "billable", "S72.001A"),  # 7th character extension
        ("T1490XA", "billable", "T14.90XA"),
        ("F32.A", "billable", "F32.A"),
        ("E11", "not_billable", "E11"),
        ("R05", "not_billable", "R05"),
        ("M54.5", "not_billable", "M54.5"),
        ("S72.001", "not_billable", "S72.001"),  # needs its 7th character
        ("E11.90", "invalid", "E11.90"),
        ("E08-E13", "invalid", "E08-E13"),  # a block, not a code
        ("4", "invalid", "4"),  # a chapter
        ("XYZ", "invalid", "XYZ"),
        ("", "invalid", ""),
    ],
)
def test_diagnosis_codes(code, status, dotted):
    assert codes.diagnosis_code_status(code) == status
    assert codes.is_billable_diagnosis_code(code) is (status == "billable")
    assert codes.normalize_diagnosis_code(code) == dotted


def test_diagnosis_description():
    assert codes.diagnosis_code_description("E119") == "Type 2 diabetes mellitus without complications"
    assert codes.diagnosis_code_description("XYZ") is None


@pytest.mark.parametrize("code", ["99213", "0001U", "0500F", "0042T", "G0438", "E0601", "J3490", "A0425"])
def test_procedure_code_format_accepts_cpt_and_hcpcs(code):
    assert codes.is_procedure_code_format(code)


@pytest.mark.parametrize("code", ["9921", "992133", "W1234", "G043", "99213 ", "g0438", "0042X", ""])
def test_procedure_code_format_rejects(code):
    assert not codes.is_procedure_code_format(code)


def test_procedure_code_set():
    assert codes.is_known_procedure_code("99213")
    assert codes.procedure_category("99213") == "primary_care"
    assert codes.procedure_category("E0601") == "durable_medical_equipment"
    assert not codes.is_known_procedure_code("99499")
    assert codes.procedure_category("99499") is None
    assert codes.procedure_codes() is codes.procedure_codes()  # cached


@pytest.mark.parametrize(("modifier", "ok"), [("25", True), ("TC", True), ("XU", True), ("Q5", True),
                                              ("2", False), ("255", False), ("t c", False), ("tc", False)])
def test_modifier_format(modifier, ok):
    assert codes.is_modifier_format(modifier) is ok


def test_known_modifiers_are_well_formed():
    assert {"25", "59", "26", "TC", "LT", "RT", "50", "76", "91", "GT", "95", "XU"} <= codes.KNOWN_MODIFIERS
    assert all(codes.is_modifier_format(m) for m in codes.KNOWN_MODIFIERS)


@pytest.mark.parametrize(("pos", "ok"), [("11", True), ("02", True), ("10", True), ("22", True), ("23", True),
                                         ("2", False), ("00", False), ("98", False)])
def test_place_of_service(pos, ok):
    assert codes.is_known_place_of_service(pos) is ok


@pytest.mark.parametrize(("tin", "ok"), [("123456789", True), ("12-3456789", True), ("12345678", False),
                                         ("123-45-6789", False), ("12-345678", False), ("abcdefghi", False),
                                         ("000000000", False), ("1234567890", False)])
def test_tin_format(tin, ok):
    assert codes.is_valid_tin(tin) is ok


def test_tin_normalisation():
    assert codes.normalize_tin("12-3456789") == codes.normalize_tin("123456789") == "123456789"


def test_preload_loads_every_code_set():
    codes.preload()
    assert codes.is_known_place_of_service("11") and codes.is_known_procedure_code("99213")


@pytest.mark.parametrize("digits", ["٠١٢٣٤٥٦٧٨٩", "０１２３４５６７８９", "০১২৩৪৫৬৭৮৯"])
def test_identifiers_take_ascii_digits_only(digits):
    foreign = str.maketrans("0123456789", digits)
    assert codes.is_valid_npi("1234567893")
    assert not codes.is_npi_format("1234567893".translate(foreign))
    assert not codes.is_valid_npi("1234567893".translate(foreign))
    assert not codes.is_valid_tin("123456789".translate(foreign))
    assert not codes.is_procedure_code_format("99213".translate(foreign))
