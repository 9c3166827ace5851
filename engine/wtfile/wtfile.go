// Package wtfile reads files the model wrote. agent-tui reads them
// unconfined, so a read stays inside the worktree (os.Root), never
// follows a final symlink unless asked (and then only inside the root),
// never waits on a fifo, reads only regular files, and reads at most a
// cap: a link to ~/.ssh/id_rsa or /dev/zero, or a 64 GiB sparse file,
// must not end up in a prompt or take all memory.
package wtfile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrTooLarge is the error of a read of a file over its cap.
var ErrTooLarge = errors.New("too large")

// SymlinkError is a read of a symlink that was not followed.
type SymlinkError struct {
	Path, Target string
}

func (e *SymlinkError) Error() string {
	return fmt.Sprintf("%s is a symlink to %s; not followed", e.Path, e.Target)
}

// NotRegularError is a read of a directory, fifo, device or socket.
type NotRegularError struct {
	Path string
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	if e.Mode.IsDir() {
		return e.Path + " is a directory"
	}
	return fmt.Sprintf("%s is not a regular file (%s)", e.Path, Kind(e.Mode))
}

// Kind names what a file that is not a regular one is.
func Kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	}
	return "not a regular file"
}

// Open opens the regular file rel inside root for reading; a final
// symlink is a *SymlinkError.
func Open(root *os.Root, rel string) (*os.File, fs.FileInfo, error) {
	return open(root, rel, false)
}

// OpenLinked is Open following a final symlink whose target is inside
// root (os.Root refuses one that leaves it).
func OpenLinked(root *os.Root, rel string) (*os.File, fs.FileInfo, error) {
	return open(root, rel, true)
}

func open(root *os.Root, rel string, follow bool) (*os.File, fs.FileInfo, error) {
	var lfi fs.FileInfo
	if !follow {
		var err error
		if lfi, err = root.Lstat(rel); err != nil {
			return nil, nil, err
		}
		if lfi.Mode()&fs.ModeSymlink != 0 {
			target, err := root.Readlink(rel)
			if err != nil {
				return nil, nil, err
			}
			return nil, lfi, &SymlinkError{Path: rel, Target: target}
		}
		if !lfi.Mode().IsRegular() {
			return nil, lfi, &NotRegularError{Path: rel, Mode: lfi.Mode()}
		}
	}
	// non-blocking: a fifo put there after the Lstat would otherwise wait
	// for a writer that never comes
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
	case !fi.Mode().IsRegular():
		err = &NotRegularError{Path: rel, Mode: fi.Mode()}
	case lfi != nil && !os.SameFile(lfi, fi):
		// replaced (by a symlink) between the Lstat and the open
		err = fmt.Errorf("%s changed while it was opened", rel)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// Head reads at most max bytes from the start of the regular file rel
// (never through a symlink); more says the file holds more.
func Head(root *os.Root, rel string, max int64) (data []byte, more bool, err error) {
	f, _, err := Open(root, rel)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	return head(f, max)
}

func head(f *os.File, max int64) ([]byte, bool, error) {
	// the size Stat gives is only a hint: the file may grow while read
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(data)) > max {
		return data[:max], true, nil
	}
	return data, false, nil
}

// Read reads the regular file rel (never through a symlink) when it holds
// at most max bytes; a larger one is ErrTooLarge.
func Read(root *os.Root, rel string, max int64) ([]byte, error) {
	f, fi, err := Open(root, rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readCapped(f, fi, rel, max)
}

// ReadLinked is Read following a final symlink inside root.
func ReadLinked(root *os.Root, rel string, max int64) ([]byte, error) {
	f, fi, err := OpenLinked(root, rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readCapped(f, fi, rel, max)
}

func readCapped(f *os.File, fi fs.FileInfo, rel string, max int64) ([]byte, error) {
	tooLarge := fmt.Errorf("%s is %w (over %d bytes)", rel, ErrTooLarge, max)
	if fi.Size() > max {
		return nil, tooLarge
	}
	data, more, err := head(f, max)
	if err != nil {
		return nil, err
	}
	if more {
		return nil, tooLarge
	}
	return data, nil
}

// ReadFile reads the regular file at path, following links, when it holds
// at most max bytes: for the user's own files (a config, a prompt), where a
// link to /dev/zero or a fifo must be an error, not all memory or a wait.
// A larger file is ErrTooLarge; a directory, fifo or device a
// *NotRegularError.
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &NotRegularError{Path: path, Mode: fi.Mode()}
	}
	return readCapped(f, fi, path, max)
}

// ReadIn is Read of rel inside the directory dir.
func ReadIn(dir, rel string, max int64) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return Read(root, rel, max)
}

// Hash is the sha256 (hex) of what git would record for rel: a regular
// file's content, streamed, a symlink's target name (never its target's
// content: a changed link is a change), or a special file's type.
func Hash(root *os.Root, rel string) (string, error) {
	h := sha256.New()
	f, _, err := Open(root, rel)
	var link *SymlinkError
	var special *NotRegularError
	switch {
	case errors.As(err, &link):
		io.WriteString(h, "symlink\x00"+link.Target)
	case errors.As(err, &special):
		io.WriteString(h, "special\x00"+special.Mode.Type().String())
	case err != nil:
		return "", err
	default:
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
