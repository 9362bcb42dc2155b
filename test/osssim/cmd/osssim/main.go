// Command osssim serves the OSS stand-in (package osssim) on loopback, for
// pointing local mode or other tools at it:
//
//	go run ./test/osssim/cmd/osssim --bucket corp-policy \
//	    --put corp-policy/hpcgate/bundle.tar.gz=bundle.tar.gz
//
// It accepts one long-term AccessKey (--access-key-id, its secret from
// --access-key-secret or $OSSSIM_ACCESS_KEY_SECRET) allowed everything, and
// prints the endpoint to give the SDK (path-style, since it is an IP).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hpcgate/hpcgate/test/osssim"
)

// Dev credentials of the stand-in: not secret, loopback only.
const (
	defaultAccessKeyID     = "LTAI5tOSSSimDevKey01"
	defaultAccessKeySecret = "osssim-dev-secret"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "osssim:", err)
		os.Exit(1)
	}
}

// multi collects a repeated flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// run parses args, starts the stand-in and serves until ctx ends or
// SIGINT/SIGTERM arrives.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("osssim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:18081", "loopback address to serve on")
	region := fs.String("region", osssim.DefaultRegion, "region of the V4 signing scope")
	akID := fs.String("access-key-id", defaultAccessKeyID, "accepted AccessKeyId")
	akSecret := fs.String("access-key-secret", "", "its AccessKeySecret (default $OSSSIM_ACCESS_KEY_SECRET, else the dev secret)")
	logLevel := fs.String("log-level", "info", "debug (one line per request), info, warn or error")
	var buckets, puts multi
	fs.Var(&buckets, "bucket", "create this bucket (repeatable)")
	fs.Var(&puts, "put", "store bucket/key=FILE before serving (repeatable; creates the bucket)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	secret := *akSecret
	if secret == "" {
		secret = getenv("OSSSIM_ACCESS_KEY_SECRET")
	}
	if secret == "" {
		secret = defaultAccessKeySecret
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	s := osssim.New(osssim.Config{Region: *region, Logger: logger})
	s.AddKey(*akID, secret)
	for _, b := range buckets {
		s.CreateBucket(b)
	}
	for _, p := range puts {
		target, file, ok := strings.Cut(p, "=")
		bucket, key, ok2 := strings.Cut(target, "/")
		if !ok || !ok2 || bucket == "" || key == "" || file == "" {
			return fmt.Errorf("--put %q: want bucket/key=FILE", p)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("--put: %w", err)
		}
		s.Put(bucket, key, data)
	}
	endpoint, err := s.Listen(*listen)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(stdout, "endpoint:      %s\nregion:        %s\naccessKeyId:   %s\nbuckets:       %s\n",
		endpoint, s.Region(), *akID, strings.Join(append(buckets, bucketsOf(puts)...), ","))
	logger.Info("osssim serving", "endpoint", endpoint, "region", s.Region(), "accessKeyId", *akID)

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	logger.Info("osssim shutting down")
	return s.Close()
}

func bucketsOf(puts []string) []string {
	var out []string
	for _, p := range puts {
		b, _, _ := strings.Cut(p, "/")
		out = append(out, b)
	}
	return out
}
