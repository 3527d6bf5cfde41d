// Command ferretdb runs the embeddable FerretDB v1 (SQLite backend) as the local
// MongoDB-protocol server. We build our own tiny main module because a plain
// `go install` of FerretDB's command panics on a missing build/version/version.txt.
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	addr := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	dir := flag.String("sqlite-dir", "./data", "directory holding one SQLite file per database")
	level := flag.String("log-level", "warn", "debug, info, warn or error (info logs every connection)")
	// SQLite's synchronous setting under FerretDB's WAL journal (docs/adr: the durability trade-off).
	// normal: a commit is durable against a crash of FerretDB, not against losing the machine's
	// power before the next checkpoint; full: fsync on every commit.
	synchronous := flag.String("sqlite-synchronous", "normal", "SQLite synchronous pragma: normal or full")
	flag.Parse()

	if *synchronous != "normal" && *synchronous != "full" {
		log.Fatalf("invalid -sqlite-synchronous %q: normal or full", *synchronous)
	}

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		log.Fatalf("invalid -log-level: %v", err)
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		log.Fatal(err)
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *addr},
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})),
		Handler:   "sqlite",
		SQLiteURL: "file:" + *dir + "/?_pragma=synchronous(" + *synchronous + ")",
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := f.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
