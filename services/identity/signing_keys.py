"""The local development issuer's RSA signing key, shared by every identity replica.

Kept in MongoDB so restarts and replicas sign with the same key; the first replica to
start creates it (a unique _id makes the race harmless).
"""

import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


class SigningKey:
    def __init__(self, kid: str, private_pem: bytes) -> None:
        self.kid = kid
        self.private_key = serialization.load_pem_private_key(private_pem, password=None)
        public_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        self.public_jwk = {**public_jwk, "kid": kid, "use": "sig", "alg": "RS256"}

    def sign(self, claims: dict) -> str:
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid})


async def load_or_create(db: AsyncDatabase) -> SigningKey:
    keys = db["signing_keys"]
    doc = await keys.find_one({"_id": "current"})
    if doc is None:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            await keys.insert_one({"_id": "current", "kid": uuid.uuid4().hex, "private_pem": pem.decode()})
        except DuplicateKeyError:
            pass
        doc = await keys.find_one({"_id": "current"})
    return SigningKey(doc["kid"], doc["private_pem"].encode())
