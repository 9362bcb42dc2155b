// Package claim is the ledger that makes an event delivered more than
// once run its command once. Function Compute delivers asynchronous
// invocations at least once (function errors are retried, OSS and
// EventBridge may deliver twice), so before a command for an event is
// sent, the attempt writes a claim for the event's identity with a
// conditional create (OSS PutObject with x-oss-forbid-overwrite in
// production, the same semantics in memory or in a directory locally).
// Exactly one copy of an event creates the claim; every other copy
// reads it and learns the outcome.
//
// Claims are append-only: generation 0 of an event is the first claim;
// a claim whose command surely never reached E-HPC (released by its
// owner, or its lease expired and E-HPC lists no command carrying its
// marker) is taken over by creating generation n+1, again conditionally,
// so two copies can never both take over the same claim. Nothing is
// overwritten or deleted, which is why the store needs only a
// conditional create and a read. The outcome of a claim (the CommandId,
// or why nothing was sent) is a second object beside it, also created
// once.
//
// Each claim records the marker its command carries (random, chosen by
// the gate), so a copy that finds a claim without outcome looks that
// marker up in E-HPC's ListCommands.
package claim
