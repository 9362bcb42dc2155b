// Package authn verifies bearer JWTs against a JSON Web Key Set and turns
// them into the user principal that policies are evaluated for.
//
// # Rules
//
// Configuration (New refuses to build a Verifier otherwise):
//   - Exactly one key source: an inline JWKS, a JWKS file (read once), or a
//     JWKS URL. The URL must be https; plain http is allowed only for a
//     loopback host (127.0.0.0/8, ::1, localhost), for local runs and tests.
//   - Issuer and Audience are required. A verifier without them would
//     accept tokens the identity provider minted for any other service.
//   - Algorithms is an allow-list of asymmetric algorithms: RS256, RS384,
//     RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519
//     (names are case-sensitive). The default is RS256, RS384, RS512,
//     PS256, ES256, ES384, EdDSA. "none" and HS256/384/512 are refused.
//   - Leeway (clock skew on exp, nbf, iat) defaults to 30 s, at most 5 min.
//
// Keys:
//   - Only public RSA, EC (P-256/384/521) and Ed25519 keys are used. Keys
//     that are symmetric, private, of unknown type, marked "use" other than
//     "sig", or whose key_ops lack "verify" are skipped; an inline or file
//     JWKS with no usable key is a configuration error. RSA keys need at
//     least 2048 bits.
//   - A key is tried only for the algorithm family and curve it belongs to,
//     and only for its own "alg" when the JWK sets one. So no public key is
//     ever used as an HMAC secret (alg confusion), and "none" never passes.
//   - A token with a "kid" is checked only against keys with that kid; a
//     token without one against every suitable key. Keys in the token
//     itself ("jwk", "jku", "x5u", "x5c") are ignored: never fetched, never
//     trusted. Tokens with a "crit" or "b64" header are refused.
//   - A JWKS URL is fetched on first use (an unreachable identity provider
//     does not stop the function from starting), again once older than
//     MaxAge (15 min), and again when a token names a kid the set lacks
//     (key rotation). All fetches share one rate limit — a burst of 2, then
//     one per RefreshInterval (10 s) — and concurrent callers share one
//     fetch, so a flood of tokens with made-up kids cannot hammer the
//     identity provider. A failed refresh keeps the previous set. Responses
//     over 1 MiB or 100 keys are refused; https-to-http redirects are not
//     followed.
//
// Tokens:
//   - Taken from exactly one "Authorization: Bearer <token>" header (scheme
//     case-insensitive); missing header, another scheme, no token, two
//     tokens or two headers are refused. Tokens over 8 KiB are refused
//     before decoding; only the JWS compact form (three non-empty base64url
//     segments) is accepted.
//   - Checked: signature; iss equal to Issuer; aud equal to, or a list
//     containing, Audience; exp present and not past; nbf, if present, not
//     in the future; iat, if present, not in the future — each with the
//     leeway. The claims must be a JSON object (a signed payload can never
//     carry a nested, unverified token).
//   - sub is required: non-empty, at most 256 bytes, printable UTF-8, no
//     leading or trailing space. It becomes Principal.ID, with Type "user".
//   - Groups come from GroupsClaim (default "groups"): absent, null or ""
//     means none; a string is one group; a list of strings is the groups
//     (duplicates dropped, at most 256, each sane like sub). Any other
//     shape rejects the token, because silently dropping groups could skip
//     a Deny attached to one of them. A dotted name ("realm_access.roles")
//     that is not itself a claim is followed through nested objects.
//   - Principal.MFA is set for every token: true when amr (a list of
//     strings) contains "mfa", false when amr is absent; another amr shape
//     rejects the token.
//
// Errors: every failure is an *hpcgate.Error with Code Unauthenticated and
// Source "gate". The caller sees only "missing bearer token",
// "malformed authorization header", "invalid token" or "token expired"
// (status 401), or "token verification unavailable" (503, retryable) when
// the key set cannot be loaded. The reason goes to the internal cause
// (Err) for the log; neither ever contains the token — a cause that would
// quote any part of it is replaced. Tokens held in memory use the Token
// type, which prints and logs as [REDACTED].
//
// A token that passed every check is remembered by its SHA-256 until it
// expires (at most 4,096 of them): the next request with it skips the
// signature check (ES256: ~140 µs to ~2 µs here), while expiry, not-before
// and the current key set are still checked on every use.
//
// DevIssuer mints tokens (issuer "hpcgate-local", audience "hpcgate") with
// an ES256 key generated in memory, for `function local` and tests.
package authn
