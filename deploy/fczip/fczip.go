// Package fczip builds the code package Function Compute runs for the go1
// runtime: a static linux/amd64 binary, alone at the root of a zip, with its
// executable bit kept. The same sources and toolchain give the same zip
// bytes, so a deployed package can be checked against a rebuild.
package fczip

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// BinaryName is the binary's path inside the zip; s.yaml's handler must
// name it, since FC's go1 runtime executes the handler path directly.
const BinaryName = "main"

// DefaultPackage is the Go package the function is built from, relative to
// the module root.
const DefaultPackage = "./function"

// DefaultOutput is where the zip is written, relative to the module root;
// s.yaml's code points at it.
const DefaultOutput = "dist/code.zip"

// ModTime is the modification time of the zip entry: the earliest an MS-DOS
// timestamp can say, so that no build clock leaks into the bytes.
var ModTime = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)

// Tags are the build tags of the code package: nolocal leaves local mode,
// and with it the E-HPC simulator, out of the binary.
const Tags = "nolocal"

// BuildFlags are the go build flags of the code package: reproducible (no
// file-system paths, no build id, no VCS stamp, no symbol tables) and
// without local mode (Tags).
var BuildFlags = []string{"-trimpath", "-buildvcs=false", "-tags=" + Tags, "-ldflags=-s -w -buildid="}

// buildEnv pins what changes the machine code: FC's go1 runtime is Linux
// x86_64 only, and a static binary needs no libc from the runtime image.
var buildEnv = []string{"GOOS=linux", "GOARCH=amd64", "GOAMD64=v1", "CGO_ENABLED=0"}

// Build compiles pkg (a package path as go build takes it) in directory dir
// ("" = the current one) for FC and returns the binary.
func Build(ctx context.Context, dir, pkg string) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "fczip-")
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, BinaryName)

	args := append([]string{"build", "-o", out}, BuildFlags...)
	args = append(args, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), buildEnv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("build %s: %w\n%s", pkg, err, stderr.Bytes())
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", pkg, err)
	}
	return bin, nil
}

// Write writes a zip to w holding binary as BinaryName with mode 0755 and
// ModTime, deflated at the best compression level. The output depends only
// on binary (and the Go version's compress/flate).
func Write(w io.Writer, binary []byte) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestCompression)
	})
	h := &zip.FileHeader{Name: BinaryName, Method: zip.Deflate, Modified: ModTime}
	h.SetMode(0o755)
	f, err := zw.CreateHeader(h)
	if err != nil {
		return fmt.Errorf("zip: %w", err)
	}
	if _, err := f.Write(binary); err != nil {
		return fmt.Errorf("zip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("zip: %w", err)
	}
	return nil
}

// Info describes one written package.
type Info struct {
	Path       string // the zip file
	BinarySize int    // bytes of the uncompressed binary
	ZipSize    int    // bytes of the zip
	SHA256     string // hex digest of the zip
	CRC64      uint64 // CRC-64/ECMA of the zip, the form FC reports as codeChecksum
}

// Package builds pkg in dir and writes the zip to output, creating its
// directory. The file is replaced only once the zip is complete.
func Package(ctx context.Context, dir, pkg, output string) (Info, error) {
	bin, err := Build(ctx, dir, pkg)
	if err != nil {
		return Info{}, err
	}
	var buf bytes.Buffer
	if err := Write(&buf, bin); err != nil {
		return Info{}, err
	}
	if err := writeFile(output, buf.Bytes()); err != nil {
		return Info{}, err
	}
	sum := sha256.Sum256(buf.Bytes())
	return Info{
		Path:       output,
		BinarySize: len(bin),
		ZipSize:    buf.Len(),
		SHA256:     hex.EncodeToString(sum[:]),
		CRC64:      crc64.Checksum(buf.Bytes(), crc64.MakeTable(crc64.ECMA)),
	}, nil
}

// writeFile writes data to path through a temporary file in the same
// directory, so a failed run never leaves a truncated zip to deploy.
func writeFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, ".code-*.zip")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
