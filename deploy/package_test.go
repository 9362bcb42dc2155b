package deploy

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hpcgate/hpcgate/deploy/fczip"
)

// TestPackageReproducible builds the real function twice, into two
// directories, and requires the same zip bytes: a deployed package can then
// be checked against a rebuild of its sources. It also checks that the zip
// holds what s.yaml's handler names. It compiles the whole function, so
// -short skips it.
func TestPackageReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the function twice; skipped with -short")
	}
	_, p := props(t, httpResource)
	var zips [2][]byte
	for i := range zips {
		out := filepath.Join(t.TempDir(), "dist", "code.zip")
		info, err := fczip.Package(t.Context(), "..", fczip.DefaultPackage, out)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if info.ZipSize != len(b) || info.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("Info %+v does not describe the file (%d bytes)", info, len(b))
		}
		t.Logf("build %d: binary %d bytes, zip %d bytes, sha256 %s", i+1, info.BinarySize, info.ZipSize, info.SHA256)
		zips[i] = b
	}
	if !bytes.Equal(zips[0], zips[1]) {
		t.Fatal("two builds of the same sources gave different zips")
	}

	zr, err := zip.NewReader(bytes.NewReader(zips[0]), int64(len(zips[0])))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 || zr.File[0].Name != p.Handler {
		t.Fatalf("zip entries %v, want exactly the handler %q", zr.File, p.Handler)
	}
	f := zr.File[0]
	if f.Mode() != 0o755 {
		t.Errorf("mode %v, want -rwxr-xr-x (FC executes the file)", f.Mode())
	}
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	e, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("handler is not an ELF binary: %v", err)
	}
	if e.Machine != elf.EM_X86_64 || e.OSABI != elf.ELFOSABI_NONE && e.OSABI != elf.ELFOSABI_LINUX {
		t.Errorf("binary for %v/%v, want linux x86-64 (FC go1)", e.OSABI, e.Machine)
	}
	for _, prog := range e.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Error("binary is dynamically linked; FC's go1 runtime needs a static one (CGO_ENABLED=0)")
		}
	}
}
