package fcemu

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// builds caches BuildBinary(ctx, pkg, "") per process: one temporary
// directory, one binary per (working directory, package).
var builds struct {
	mu      sync.Mutex
	dir     string
	entries map[string]*buildEntry
	sources []string // source directories of the builds, under go test
}

type buildEntry struct {
	mu     sync.Mutex
	target string
	built  bool
}

// BuildBinary compiles the main package pkg (anything `go build` accepts,
// resolved from the working directory; an import path such as
// "github.com/hpcgate/hpcgate/test/fcemu/hello" works from anywhere in the
// module) with CGO_ENABLED=0, as for FC, and returns the binary's path.
//
// With out == "" the binary goes to a temporary directory shared by the
// process and is built once per package; RemoveBuilds deletes it. Otherwise
// it is written to out, uncached.
func BuildBinary(ctx context.Context, pkg, out string) (string, error) {
	if out != "" {
		return out, goBuild(ctx, pkg, out)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("fcemu: build %s: %w", pkg, err)
	}
	key := wd + "\x00" + pkg

	builds.mu.Lock()
	if builds.dir == "" {
		dir, err := os.MkdirTemp("", "fcemu-build-")
		if err != nil {
			builds.mu.Unlock()
			return "", fmt.Errorf("fcemu: build %s: %w", pkg, err)
		}
		builds.dir = dir
		builds.entries = make(map[string]*buildEntry)
	}
	ent, ok := builds.entries[key]
	if !ok {
		dir := filepath.Join(builds.dir, strconv.Itoa(len(builds.entries)))
		ent = &buildEntry{target: filepath.Join(dir, filepath.Base(pkg))}
		builds.entries[key] = ent
	}
	builds.mu.Unlock()

	// A failed build is not cached: the next caller tries again.
	ent.mu.Lock()
	defer ent.mu.Unlock()
	if ent.built {
		return ent.target, nil
	}
	if err := goBuild(ctx, pkg, ent.target); err != nil {
		return "", err
	}
	if testing.Testing() {
		dirs, err := sourceDirs(ctx, pkg)
		if err != nil {
			return "", err
		}
		builds.mu.Lock()
		builds.sources = append(builds.sources, dirs...)
		builds.mu.Unlock()
		NoteSources()
	}
	ent.built = true
	return ent.target, nil
}

// sourceDirs lists the directories of the packages of this module that
// pkg is built from.
func sourceDirs(ctx context.Context, pkg string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-deps",
		"-f", "{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}", pkg).Output()
	if err != nil {
		return nil, fmt.Errorf("fcemu: go list %s: %w", pkg, err)
	}
	return strings.Fields(string(out)), nil
}

// NoteSources opens every file in the source directories of the binaries
// BuildBinary built in this test process. go test caches a package's
// result keyed on the files its tests opened, and knows nothing of the
// sources a `go build` they start compiles: without this, a test of the
// gateway binary would pass from the cache after the gateway changed. go
// test records only what is opened while tests run, so a TestMain that
// builds before m.Run has its tests call this.
func NoteSources() {
	builds.mu.Lock()
	dirs := slices.Clone(builds.sources)
	builds.mu.Unlock()
	for _, dir := range dirs {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.Type().IsRegular() {
				if f, err := os.Open(filepath.Join(dir, e.Name())); err == nil {
					f.Close()
				}
			}
		}
	}
}

// RemoveBuilds deletes the binaries BuildBinary cached. Call it from
// TestMain after m.Run.
func RemoveBuilds() error {
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if builds.dir == "" {
		return nil
	}
	err := os.RemoveAll(builds.dir)
	builds.dir, builds.entries = "", nil
	return err
}

func goBuild(ctx context.Context, pkg, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("fcemu: build %s: %w", pkg, err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("fcemu: go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}
