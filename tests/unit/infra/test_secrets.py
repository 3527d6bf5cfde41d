from services.identity.secrets_hashing import hash_secret, new_secret, verify_secret


def test_secrets_are_stored_salted_and_verified():
    secret = new_secret()
    first, second = hash_secret(secret), hash_secret(secret)
    assert secret not in first and first != second
    assert verify_secret(secret, first) and verify_secret(secret, second)
    assert not verify_secret(secret + "x", first)
    assert not verify_secret(secret, "plain-text")
