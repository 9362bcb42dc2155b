package deploy

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"debug/gosym"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	checkNoTestCode(t, bin, e)
}

// checkNoTestCode proves the packaged binary holds no code of the
// module's test/ tree (the E-HPC simulator that local mode runs): its
// function table, which stripping keeps, names no such package, while it
// does name the gateway's own packages; and the build says it used Tags.
func checkNoTestCode(t *testing.T, bin []byte, e *elf.File) {
	t.Helper()
	pcln, text := e.Section(".gopclntab"), e.Section(".text")
	if pcln == nil || text == nil {
		t.Fatal("no .gopclntab or .text section: cannot list the binary's functions")
	}
	data, err := pcln.Data()
	if err != nil {
		t.Fatal(err)
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]bool{}
	for _, f := range tab.Funcs {
		pkgs[f.PackageName()] = true
	}
	if !pkgs[module+"/function/internal/policy"] {
		t.Fatalf("the function table names no %s/function/internal/policy function: the check below would prove nothing", module)
	}
	for p := range pkgs {
		if strings.HasPrefix(p, module+"/test/") {
			t.Errorf("packaged binary contains %s: local mode's simulator must not be in the code package", p)
		}
	}
	info, err := buildinfo.Read(bytes.NewReader(bin))
	if err != nil {
		t.Fatal(err)
	}
	var tags string
	for _, s := range info.Settings {
		if s.Key == "-tags" {
			tags = s.Value
		}
	}
	if tags != fczip.Tags {
		t.Errorf("built with tags %q, want %q", tags, fczip.Tags)
	}
}

// module is the module path of the project.
const module = "github.com/hpcgate/hpcgate"

// TestPackageDependencies checks, without a build, that the code package's
// import graph holds nothing of test/ while the default build (go run
// ./function local) still links the simulator.
func TestPackageDependencies(t *testing.T) {
	deps := func(tags ...string) map[string]bool {
		args := append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, tags...)
		cmd := exec.CommandContext(t.Context(), "go", append(args, fczip.DefaultPackage)...)
		cmd.Dir = ".." // the module root, where DefaultPackage is relative to
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		m := map[string]bool{}
		for _, p := range strings.Fields(string(out)) {
			m[p] = true
		}
		return m
	}
	sim := module + "/test/ehpcsim/simulator"
	if !deps()[sim] {
		t.Errorf("the default build does not link %s: local mode lost its simulator", sim)
	}
	for p := range deps("-tags=" + fczip.Tags) {
		if strings.HasPrefix(p, module+"/test/") {
			t.Errorf("with -tags %s the function still imports %s", fczip.Tags, p)
		}
	}
}
