// Package gitserver is onramp's built-in Git server: bare repositories on
// disk, written directly by Provider and served over Git smart HTTP by
// Server, in pure Go on top of go-git's plumbing.
//
// A project's repository lives at <Root>/<project>.git. Every writer of a
// repository (Provider, a push through Server) takes an exclusive file lock
// at <Root>/.locks/<project>.lock, so Servers and Providers that share a
// Root, in one process or several, never interleave reference updates.
// Clones and fetches share a readers' lock, which a push that repacks the
// repository takes while it repacks.
//
// Server speaks protocol v0/v1 (the git CLI falls back to it when it asks
// for v2), with multi_ack_detailed, side-band-64k, ofs-delta and shallow
// clones by commit depth ("deepen N", which Flux uses). It does not support
// protocol v2, deepen-since/deepen-not, partial clone filters, thin packs
// on push (it advertises no-thin) or the dumb HTTP protocol.
package gitserver
