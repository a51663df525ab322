// Package localgitea builds and runs a real Gitea on 127.0.0.1, for the tests
// of onramp's external Git providers and for trying them on one machine.
//
// Build compiles Gitea from the pinned module in tools/gitea (cgo, SQLite)
// into a user cache directory, once; Start runs it against a data directory
// with a generated app.ini: SQLite, an HTTP port and Gitea's built-in SSH
// server on loopback ports picked at random, an admin user with an access
// token. Tests use the giteatest package. docs/gitproviders.md explains the
// layout and the figures.
package localgitea
