from infra.http.problems import validation_errors


def test_body_errors_read_like_the_request_and_other_inputs_say_where():
    raw = [
        {"loc": ("body", "lines", 0, "units"), "type": "int_parsing", "msg": "Input should be a valid integer"},
        {"loc": ("body", "member_id"), "type": "missing", "msg": "Field required"},
        {"loc": ("query", "limit"), "type": "less_than_equal", "msg": "Input should be <= 100"},
        {"loc": ("body", "tin"), "type": "value_error", "msg": "Value error, not a valid TIN"},
    ]
    assert validation_errors(raw) == [
        {"loc": "lines[0].units", "code": "int_parsing", "message": "Input should be a valid integer"},
        {"loc": "member_id", "code": "missing", "message": "Field required"},
        {"loc": "query.limit", "code": "less_than_equal", "message": "Input should be <= 100"},
        {"loc": "tin", "code": "value_error", "message": "not a valid TIN"},
    ]


def test_input_values_are_never_echoed():
    raw = [{"loc": ("body", "patient_date_of_birth"), "type": "date_parsing", "msg": "Input should be a valid date",
            "input": "1980-02-30"}]
    assert "1980" not in str(validation_errors(raw))


def test_a_body_that_is_not_json_is_an_error_of_the_whole_body():
    raw = [{"loc": ("body", 1), "type": "json_invalid", "msg": "JSON decode error"}]
    assert validation_errors(raw) == [{"loc": "", "code": "json_invalid", "message": "JSON decode error"}]
