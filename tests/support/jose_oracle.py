"""Independent JOSE oracle for tests/jose_differential.rs, backed by jwcrypto (OpenSSL).

Reads one JSON request on stdin: {"ops": [op, ...]}; prints {"results": [result, ...]}, one
result per op, in order. A failing op yields {"error": "<text>"} and never stops the others.

Ops:
  {"op": "keygen", "alg": "RS256"}                         -> {"jwk": {private JWK}}
  {"op": "sign", "jwk": {...}, "alg": "RS256", "claims": {...}}
                                                           -> {"token": "<compact JWS>"}
  {"op": "verify", "jwk": {...}, "alg": "RS256", "token": "..."}
                                                           -> {"valid": bool, "claims": {...}?}
  {"op": "thumbprint", "jwk": {...}}                       -> {"thumbprint": "<b64url sha256>"}
  {"op": "public_jwk", "pem": "<PEM public key or certificate>"}
                                                           -> {"jwk": {public JWK}}
"""
import json
import sys

from jwcrypto import jwk, jws
from jwcrypto.common import json_decode, json_encode

KEYGEN = {
    "HS256": dict(kty="oct", size=256),
    "HS384": dict(kty="oct", size=384),
    "HS512": dict(kty="oct", size=512),
    "ES256": dict(kty="EC", crv="P-256"),
    "ES384": dict(kty="EC", crv="P-384"),
    "ES512": dict(kty="EC", crv="P-521"),
    "EdDSA": dict(kty="OKP", crv="Ed25519"),
}
for _alg in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"):
    KEYGEN[_alg] = dict(kty="RSA", size=2048)


def keygen(op):
    key = jwk.JWK.generate(**KEYGEN[op["alg"]])
    return {"jwk": json.loads(key.export(private_key=True))}


def sign(op):
    key = jwk.JWK(**op["jwk"])
    token = jws.JWS(json_encode(op["claims"]).encode())
    token.add_signature(key, None, json_encode({"alg": op["alg"], "typ": "JWT"}))
    return {"token": token.serialize(compact=True)}


def verify(op):
    key = jwk.JWK(**op["jwk"])
    token = jws.JWS()
    token.allowed_algs = [op["alg"]]
    try:
        token.deserialize(op["token"])
        token.verify(key, alg=op["alg"])
    except (jws.InvalidJWSSignature, jws.InvalidJWSObject, jws.InvalidJWSOperation, ValueError):
        return {"valid": False}
    return {"valid": True, "claims": json_decode(token.payload)}


def thumbprint(op):
    return {"thumbprint": jwk.JWK(**op["jwk"]).thumbprint()}


def public_jwk(op):
    key = jwk.JWK.from_pem(op["pem"].encode())
    return {"jwk": json.loads(key.export(private_key=False))}


OPS = {
    "keygen": keygen,
    "sign": sign,
    "verify": verify,
    "thumbprint": thumbprint,
    "public_jwk": public_jwk,
}


def main():
    request = json.load(sys.stdin)
    results = []
    for op in request["ops"]:
        try:
            results.append(OPS[op["op"]](op))
        except Exception as exc:  # report, keep going: the Rust side asserts on it
            results.append({"error": f"{type(exc).__name__}: {exc}"})
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
