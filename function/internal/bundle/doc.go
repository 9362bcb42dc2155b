// Package bundle keeps the gateway's policy set in step with an OPA bundle
// (the tar.gz that `opa build -b` writes) kept in OSS (oss://bucket/key),
// in a local file or behind an http(s) URL.
//
// A bundle replaces the embedded governance entirely: its data document
// (what `opa build` makes of the data.json files) is the governance data
// (policies, attachments, routes) and its Rego modules are the extension
// rules (Rego tests and a copy of the built-in RAM library, as in a copy of
// policies/, are skipped). A set with no governance data, no policy or no
// attachment is refused like any invalid one. A Loader fetches the bundle (conditionally, with If-None-Match),
// verifies its signature when a public key is configured, compiles and
// validates it with policy.Compile, and only then swaps it into the
// policy.Engine. A bundle that fails any step is refused and logged at
// error level; the set in force stays. When no set was ever loaded the
// engine has none and every decision fails closed. Each set's revision,
// which every decision and audit record carries, is "bundle:" followed by
// the manifest revision, or by a digest of the bundle bytes when the
// manifest names none.
//
// # Building and signing a bundle
//
// Put the governance data in a data.json at the top of a directory (several
// data.json files in subdirectories are merged by path, so keep one at the
// top level) and the extension rules (packages under hpcgate.ext) beside it:
//
//	governance/
//	  data.json      {"policies": {...}, "attachments": {...}, "routes": [...]}
//	  site.rego      package hpcgate.ext.site
//	  .manifest      {"revision": "2026-11-27.1"}   (optional; names the revision)
//
// Make an RSA key pair once and keep the private key out of the function:
//
//	openssl genrsa -out bundle-key.pem 3072
//	openssl rsa -in bundle-key.pem -pubout -out bundle-pub.pem
//
// Build and sign (RS256 is the default algorithm; for an ECDSA key pass
// --signing-alg ES256, ES384 or ES512 to match the curve):
//
//	opa build -b governance --signing-key bundle-key.pem -o bundle.tar.gz
//
// (--verification-key is only for re-signing a directory that already has
// a .signatures.json; on a fresh directory opa build then fails with
// "bundle missing .signatures.json file".) testdata/opa-cli holds a bundle
// built this way, which the tests load.
//
// Upload it to OSS:
//
//	ossutil cp bundle.tar.gz oss://my-policy-bucket/hpcgate/bundle.tar.gz
//
// and configure the function:
//
//	HPCGATE_POLICY_BUNDLE_URL=oss://my-policy-bucket/hpcgate/bundle.tar.gz
//	HPCGATE_POLICY_BUNDLE_PUBLIC_KEY=<the PEM text of bundle-pub.pem, or a path to it>
//	HPCGATE_POLICY_POLL_INTERVAL=60s
//
// An oss:// source is read with the OSS SDK (function/internal/oss),
// signed with the credentials FC hands each invocation, from the region's
// internal endpoint unless HPCGATE_OSS_ENDPOINT names another; the
// function's role needs oss:GetObject on exactly that object, and nothing
// expires. An unchanged object costs one GET answered 304. An https URL (a
// pre-signed OSS URL, or any server) is fetched as given, also with
// If-None-Match; a pre-signed URL stops working when it expires, which the
// refusal then says. The signature, not the transport, is what makes the
// bundle trustworthy: production deployments must configure the public key.
// Without one, unsigned bundles are accepted and a warning is logged at
// start. With one, an unsigned bundle, a bundle signed by another key, or a
// bundle whose files changed after signing is refused. The key is given as
// PEM text (a literal "\n" in an environment variable is read as a newline)
// or as the path of a PEM file; RSA keys verify RS256 signatures and ECDSA
// keys ES256/ES384/ES512 by curve. The key id in the signature does not
// matter: there is exactly one trusted key. Build writes the same format
// from Go, for tests and tools.
package bundle
