package wtfile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dir is a worktree beside a secret file outside it.
func dir(t *testing.T) (*os.Root, string, string) {
	t.Helper()
	base := t.TempDir()
	secret := filepath.Join(base, "id_rsa")
	if err := os.WriteFile(secret, []byte("PRIVATE KEY"), 0o600); err != nil {
		t.Fatal(err)
	}
	wt := filepath.Join(base, "wt")
	if err := os.Mkdir(wt, 0o755); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(wt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root, wt, secret
}

func TestNormalFile(t *testing.T) {
	root, wt, _ := dir(t)
	os.MkdirAll(filepath.Join(wt, "tests"), 0o755)
	os.WriteFile(filepath.Join(wt, "tests", "a.txt"), []byte("hello\n"), 0o644)
	if data, err := Read(root, "tests/a.txt", 100); err != nil || string(data) != "hello\n" {
		t.Fatalf("%q %v", data, err)
	}
	if data, more, err := Head(root, "tests/a.txt", 3); err != nil || string(data) != "hel" || !more {
		t.Fatalf("%q %v %v", data, more, err)
	}
	if data, more, err := Head(root, "tests/a.txt", 6); err != nil || string(data) != "hello\n" || more {
		t.Fatalf("%q %v %v", data, more, err)
	}
	if _, err := Read(root, "tests/a.txt", 5); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the cap: %v", err)
	}
	sum := sha256.Sum256([]byte("hello\n"))
	if h, err := Hash(root, "tests/a.txt"); err != nil || h != hex.EncodeToString(sum[:]) {
		t.Fatalf("hash %s %v", h, err)
	}
	if _, err := Read(root, "none", 5); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
}

func TestSymlinkOutsideIsNotFollowed(t *testing.T) {
	root, wt, secret := dir(t)
	if err := os.Symlink(secret, filepath.Join(wt, "fixture.txt")); err != nil {
		t.Fatal(err)
	}
	os.Symlink("../id_rsa", filepath.Join(wt, "rel.txt"))
	for _, p := range []string{"fixture.txt", "rel.txt"} {
		data, err := Read(root, p, 1<<20)
		var link *SymlinkError
		if !errors.As(err, &link) || strings.Contains(string(data), "PRIVATE") {
			t.Fatalf("%s: %q %v", p, data, err)
		}
		if _, _, err := Head(root, p, 1<<20); !errors.As(err, &link) {
			t.Fatalf("%s head: %v", p, err)
		}
		// the following variant stays inside the root too
		if data, err := ReadLinked(root, p, 1<<20); err == nil || strings.Contains(string(data), "PRIVATE") {
			t.Fatalf("%s linked: %q %v", p, data, err)
		}
	}
	if link, err := ReadIn(wt, "fixture.txt", 1<<20); err == nil {
		t.Fatalf("ReadIn read %q", link)
	}
	// a symlink hashes by its target's name: retargeting it is a change
	h1, err := Hash(root, "fixture.txt")
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(wt, "fixture.txt"))
	os.Symlink(secret+".pub", filepath.Join(wt, "fixture.txt"))
	if h2, err := Hash(root, "fixture.txt"); err != nil || h2 == h1 {
		t.Fatalf("retargeted link hashes the same: %v", err)
	}
	sum := sha256.Sum256([]byte("PRIVATE KEY"))
	if h1 == hex.EncodeToString(sum[:]) {
		t.Fatal("a link hashed by its target's content")
	}
}

func TestSymlinkInsideIsFollowedOnlyWhenAsked(t *testing.T) {
	root, wt, _ := dir(t)
	os.WriteFile(filepath.Join(wt, "real.json"), []byte("{}"), 0o644)
	os.Symlink("real.json", filepath.Join(wt, "package.json"))
	var link *SymlinkError
	if _, err := Read(root, "package.json", 100); !errors.As(err, &link) || link.Target != "real.json" {
		t.Fatalf("%v", err)
	}
	if data, err := ReadLinked(root, "package.json", 100); err != nil || string(data) != "{}" {
		t.Fatalf("%q %v", data, err)
	}
}

func TestDevZeroIsNotRead(t *testing.T) {
	root, wt, _ := dir(t)
	os.Symlink("/dev/zero", filepath.Join(wt, "zero"))
	done := make(chan struct{})
	go func() {
		defer close(done)
		var link *SymlinkError
		if _, err := Read(root, "zero", 1<<20); !errors.As(err, &link) {
			t.Errorf("read: %v", err)
		}
		if _, err := ReadLinked(root, "zero", 1<<20); err == nil {
			t.Error("ReadLinked read /dev/zero")
		}
		if _, err := Hash(root, "zero"); err != nil {
			t.Errorf("hash: %v", err)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("reading a link to /dev/zero did not end")
	}
}

func TestFifoDoesNotHang(t *testing.T) {
	root, wt, _ := dir(t)
	if err := syscall.Mkfifo(filepath.Join(wt, "pipe"), 0o644); err != nil {
		t.Skip(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var special *NotRegularError
		if _, err := Read(root, "pipe", 100); !errors.As(err, &special) {
			t.Errorf("read: %v", err)
		}
		if _, err := ReadLinked(root, "pipe", 100); !errors.As(err, &special) {
			t.Errorf("read linked: %v", err)
		}
		if _, err := Hash(root, "pipe"); err != nil {
			t.Errorf("hash: %v", err)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("reading a fifo hung")
	}
}

func TestHugeSparseFileIsNotLoaded(t *testing.T) {
	root, wt, _ := dir(t)
	p := filepath.Join(wt, "huge.txt")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Truncate(p, 8<<30); err != nil {
		t.Skip(err)
	}
	if _, err := Read(root, "huge.txt", 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("read: %v", err)
	}
	if _, err := ReadLinked(root, "huge.txt", 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("read linked: %v", err)
	}
	data, more, err := Head(root, "huge.txt", 4096)
	if err != nil || len(data) != 4096 || !more {
		t.Fatalf("head: %d %v %v", len(data), more, err)
	}
}
