"""The benchmark's cases, described once for every host lane.

A case names the filter in front of a direct answer (nothing, the no-op wasm filter, jwt-relay
with a configuration, Envoy's native jwt_authn, or Envoy's buffer filter), the load wrk sends,
the baseline its added time is measured against, and for jwt-relay verification the jwt_authn
case it is paired with. Keys are the test fixtures, so every figure is reproducible.
"""
import functools
import json
import os
import time
import uuid
from dataclasses import dataclass

from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

from load import Load

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests/fixtures/jose")
HMAC_SECRET = "jwt-relay-bench-secret-32-bytes-long!"
API_KEY = "jwt-relay-bench-api-key"
# More distinct tokens than jwt-relay's verified-token cache holds (1024), so rotating through
# them makes every request a miss; jwt_authn runs without its cache in that case.
DISTINCT_TOKENS = 4096
BODY_SIZES = (1024, 64 * 1024, 1024 * 1024)
# Algorithm: (private key fixture, public key fixture, key claim value).
VERIFY_KEYS = {"RS256": ("rsa2048_pkcs8.pem", "rsa2048_public_spki.pem", "rs"),
               "ES256": ("ec_p256_pkcs8.pem", "ec_p256_public_spki.pem", "es")}
MINT_KEYS = {"RS256": "rsa2048_pkcs8.pem", "ES256": "ec_p256_pkcs8.pem", "EdDSA": "ed25519_pkcs8.pem"}


@dataclass(frozen=True)
class Case:
    name: str
    section: str
    filter: str                 # none | noop | relay | jwt_authn | buffer
    config: object = None       # jwt-relay's JSON config, or jwt_authn's {"jwks": ..., "cache": bool}
    load: Load = Load()
    base: str | None = None     # the case whose time per request this one adds to
    pair: str | None = None     # for jwt-relay: the jwt_authn case on the same tokens and key
    series: str | None = None   # mint cases of one algorithm, for the body hashing figures


def fixture(name):
    with open(os.path.join(FIX, name)) as f:
        return f.read()


def size_label(n):
    return f"{n // (1024 * 1024)} MiB" if n >= 1024 * 1024 else f"{n // 1024} KiB"


@functools.lru_cache(maxsize=None)
def private_key(pem_name):
    """A fixture's key, parsed once (parsing it per token made 4,096 tokens take minutes)."""
    return jwk.JWK.from_pem(fixture(pem_name).encode())


def sign(alg, pem_name, claims):
    key = private_key(pem_name)
    t = jws.JWS(json_encode(claims).encode())
    t.add_signature(key, None, json_encode({"alg": alg, "typ": "JWT"}))
    return t.serialize(compact=True)


def token_file(alg, scratch):
    """DISTINCT_TOKENS tokens of one key, each with its own `sub` and `jti`, one per line."""
    private, _, iss = VERIFY_KEYS[alg]
    exp = int(time.time()) + 86400
    path = os.path.join(scratch, f"tokens-{alg}.txt")
    with open(path, "w") as f:
        for i in range(DISTINCT_TOKENS):
            claims = {"iss": iss, "sub": f"user-{i}", "jti": str(uuid.uuid4()), "exp": exp}
            f.write(sign(alg, private, claims) + "\n")
    return path


def first_token(path):
    with open(path) as f:
        return f.readline().strip()


def jwks(alg):
    """The public key as a JWKS, for jwt_authn's local_jwks."""
    key = jwk.JWK.from_pem(fixture(VERIFY_KEYS[alg][1]).encode())
    return json.dumps({"keys": [dict(key.export_public(as_dict=True), alg=alg)]})


def relay_verify_config():
    """jwt-relay as Kong's jwt plugin: a consumer with both keys, `exp` checked (as jwt_authn does)."""
    secrets = [{"key": iss, "algorithm": alg, "rsa_public_key": fixture(public)}
               for alg, (_, public, iss) in VERIFY_KEYS.items()]
    return {"consumers": [{"id": "c-1", "username": "bench", "jwt_secrets": secrets}],
            "jwt": {"claims_to_verify": ["exp"]}}


def hmac_jwk():
    return {"kty": "oct", "k": jwk.base64url_encode(HMAC_SECRET.encode()), "alg": "HS256"}


def upstream_jwt_config(alg):
    key = hmac_jwk() if alg == "HS256" else fixture(MINT_KEYS[alg])
    return {"upstream_jwt": {"private_key": key, "algorithm": alg, "x5c": False}}


def custom_jwt_config():
    """custom_jwt needs a verified credential and a consumer: key-auth gives both."""
    consumer = {"id": "c-1", "username": "bench", "keyauth_credentials": [{"key": API_KEY}]}
    return {"consumers": [consumer], "key_auth": {}, "custom_jwt": {"private_jwk": hmac_jwk()}}


def overhead_cases():
    section = "Pass-through"
    return [Case("no filter", section, "none"),
            Case("no-op wasm filter", section, "noop", base="no filter"),
            Case("jwt-relay {}", section, "relay", {}, base="no filter")]


# The no-op filter making jwt-relay's host calls for a cached token (bench/noop): the least any
# proxy-wasm filter doing this job costs, whatever its own code.
HOST_CALL_FLOOR = "no-op filter + jwt-relay's host calls, cached token"
# The same for upstream_jwt on a 1 KiB body (hold the headers, read the body, set the token's
# header): the least any proxy-wasm filter that signs the body costs, before it hashes or signs.
MINT_FLOOR = "no-op filter + upstream_jwt's host calls, 1 KiB"


def verify_cases(alg, tokens):
    """Same token (both caches on) and DISTINCT_TOKENS tokens (jwt_authn's cache off, jwt-relay's
    cache missing), each jwt-relay case paired with jwt_authn on the same tokens and key."""
    section = f"Verify {alg}"
    same = Load(f"{alg} token", headers=(("authorization", "Bearer " + first_token(tokens)),))
    rotate = Load(f"{alg} token rotation", tokens_file=tokens)
    base = f"no filter, {alg} token rotation"
    authn = lambda cache: {"jwks": jwks(alg), "cache": cache}
    # What any proxy-wasm filter pays to read the request and set jwt-relay's three headers.
    floor = [Case(HOST_CALL_FLOOR, section, "noop", "cached-token-calls", same, "no filter",
                  pair=f"jwt_authn {alg} same token (cache)")] if alg == "RS256" else []
    return [
        Case(f"jwt_authn {alg} same token (cache)", section, "jwt_authn", authn(True), same, "no filter"),
        *floor,
        Case(f"jwt-relay {alg} same token", section, "relay", relay_verify_config(), same, "no filter",
             pair=f"jwt_authn {alg} same token (cache)"),
        Case(base, section, "none", load=rotate),
        Case(f"jwt_authn {alg} {DISTINCT_TOKENS} tokens (no cache)", section, "jwt_authn", authn(False), rotate, base),
        Case(f"jwt-relay {alg} {DISTINCT_TOKENS} tokens", section, "relay", relay_verify_config(), rotate, base,
             pair=f"jwt_authn {alg} {DISTINCT_TOKENS} tokens (no cache)"),
    ]


def mint_cases():
    """upstream_jwt per algorithm on each body size (it hashes the body), against Envoy buffering
    the same body with no wasm; custom_jwt HS256 does not read the body, so it runs on a GET."""
    cases = []
    for size in BODY_SIZES:
        body = Load(f"{size_label(size)} POST", body_bytes=size)
        base = f"buffered, {size_label(size)} POST"
        cases.append(Case(base, "Mint", "buffer", load=body))
        if size == BODY_SIZES[0]:
            cases.append(Case(MINT_FLOOR, "Mint", "noop", "mint-calls", body, base))
        for alg in ("RS256", "ES256", "EdDSA", "HS256"):
            cases.append(Case(f"upstream_jwt {alg}, {size_label(size)}", "Mint", "relay",
                              upstream_jwt_config(alg), body, base, series=f"upstream_jwt {alg}"))
    apikey = Load("GET with API key", headers=(("apikey", API_KEY),))
    cases.append(Case("custom_jwt HS256 (key-auth), GET", "Mint", "relay", custom_jwt_config(), apikey, "no filter"))
    return cases


def all_cases(scratch):
    cases = overhead_cases()
    for alg in VERIFY_KEYS:
        cases += verify_cases(alg, token_file(alg, scratch))
    return cases + mint_cases()
