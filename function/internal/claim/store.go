package claim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Errors a Store reports for the two conditions the ledger relies on.
// Any other error is a fault: the ledger then refuses (fail closed).
var (
	ErrExists   = errors.New("claim: object already exists")
	ErrNotFound = errors.New("claim: no such object")
)

// Store is the object store the ledger keeps claims in: a create that
// fails with ErrExists when the key is taken (whoever wrote it, however
// concurrently), and a read. OSS gives both with PutObject and
// x-oss-forbid-overwrite: true (409 FileAlreadyExists) and GetObject.
type Store interface {
	Create(ctx context.Context, key string, body []byte) error
	Get(ctx context.Context, key string) ([]byte, error)
}

// Memory is a Store in memory, for local mode and tests: one process
// only. It is safe for concurrent use.
type Memory struct {
	mu      sync.Mutex
	objects map[string][]byte
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{objects: map[string][]byte{}} }

// Create stores body at key unless key is taken.
func (m *Memory) Create(ctx context.Context, key string, body []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objects[key]; ok {
		return ErrExists
	}
	m.objects[key] = append([]byte(nil), body...)
	return nil
}

// Get returns the body at key.
func (m *Memory) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[key]
	if !ok {
		return nil, ErrNotFound
	}
	return append([]byte(nil), b...), nil
}

// Len reports how many objects m holds.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.objects)
}

// Dir is a Store in a directory: processes on one host share it (local
// mode across restarts, several function instances in tests). A create
// writes a temporary file and links it to its name, which fails when the
// name exists: readers never see a partial object.
type Dir struct{ root string }

// NewDir returns a store keeping objects under root, which it creates.
func NewDir(root string) (*Dir, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("claim dir: %w", err)
	}
	return &Dir{root: root}, nil
}

func (d *Dir) path(key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "..") || strings.ContainsRune(key, 0) {
		return "", fmt.Errorf("claim dir: bad key %q", key)
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// Create stores body at key unless key is taken.
func (d *Dir) Create(ctx context.Context, key string, body []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(body); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), p); err != nil {
		if errors.Is(err, os.ErrExist) {
			return ErrExists
		}
		return err
	}
	return nil
}

// Get returns the body at key.
func (d *Dir) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	return b, err
}
