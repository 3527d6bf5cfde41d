// Mailpit (github.com/axllent/mailpit, pinned in go.mod) as the local stack's SMTP
// server with a web inbox and an HTTP API: built from the Go module proxy like
// FerretDB, through a main module of our own, so the version is ours to pin.
package main

import "github.com/axllent/mailpit/cmd"

func main() { cmd.Execute() }
