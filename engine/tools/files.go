package tools

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"agent-tui/engine/wtfile"
)

const (
	readCap        = 64 << 10 // bytes of file text returned by read_file
	maxFileBytes   = 32 << 20 // larger files are not loaded at all
	maxSearchBytes = 4 << 20  // larger files are skipped by search
	maxMatches     = 200
	maxListEntries = 2000
	maxMatchLine   = 300
)

// fileErr words a file-system error for the model without exposing
// absolute paths outside the worktree.
func fileErr(p string, err error) error {
	p = shown(p)
	var pe *fs.PathError
	inner := err
	if errors.As(err, &pe) {
		inner = pe.Err
	}
	switch {
	case strings.Contains(inner.Error(), "escapes"):
		return fmt.Errorf("%s leads outside the worktree (through .. or a symlink); refused", p)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist", p)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s: permission denied", p)
	}
	return fmt.Errorf("%s: %v", p, inner)
}

// quoteName writes a name that holds a control or text-direction character
// (a newline, an ESC, U+202E) or bytes that are not UTF-8 in Go's quoted form, so the model sees
// one name per line and can give it back (unquoteName): printed raw, such a
// name split the listing or reached the model as U+FFFD, which names no
// file. A name starting with a quote is quoted too, so that quoting stays
// unambiguous.
func quoteName(name string) string {
	if strings.HasPrefix(name, `"`) || !utf8.ValidString(name) || strings.ContainsFunc(name, unreadable) {
		return strconv.Quote(name)
	}
	return name
}

// searchName is a file's name in a `file:line:text` match: quoted when it
// holds a colon too, which would make where the name ends a guess.
func searchName(p string) string {
	if strings.Contains(p, ":") {
		return strconv.Quote(p)
	}
	return quoteName(p)
}

func unreadable(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) }

// unquoteName reads a path as quoteName wrote it, whole (as search names
// files) or by its parts (a listed name after its directory); any other
// path is itself.
func unquoteName(p string) string {
	if u, ok := unquoted(p); ok {
		return u
	}
	if !strings.Contains(p, `"`) {
		return p
	}
	parts := strings.Split(p, "/")
	for i, part := range parts {
		if u, ok := unquoted(part); ok {
			parts[i] = u
		}
	}
	return strings.Join(parts, "/")
}

func unquoted(s string) (string, bool) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", false
	}
	u, err := strconv.Unquote(s)
	return u, err == nil
}

// shown is a worktree-relative path as the model reads it.
func shown(rel string) string { return quoteName(filepath.ToSlash(rel)) }

// isGitPath protects the worktree's .git link: breaking it would detach the
// worktree from its repository.
func isGitPath(rel string) bool {
	first, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
	// in any case: on a case-insensitive file system .GIT is .git
	return strings.EqualFold(first, ".git")
}

func looksBinary(data []byte) bool {
	if len(data) > 8000 {
		data = data[:8000]
	}
	return bytes.IndexByte(data, 0) >= 0
}

func (b *Box) pathArg(a args, key string, def string) (string, error) {
	p, err := a.str(key)
	if err != nil {
		return "", err
	}
	if p == "" {
		if def == "" {
			return "", fmt.Errorf("argument %q is empty", key)
		}
		p = def
	}
	return b.rel(unquoteName(p))
}

func (b *Box) readAll(rel string) ([]byte, error) {
	// a symlink inside the worktree is read as its target, as the model's
	// own commands would
	data, err := wtfile.ReadLinked(b.root, rel, maxFileBytes)
	var special *wtfile.NotRegularError
	switch {
	case errors.As(err, &special) && special.Mode.IsDir():
		return nil, fmt.Errorf("%s is a directory; use list_dir", shown(rel))
	case errors.As(err, &special), errors.Is(err, wtfile.ErrTooLarge):
		return nil, err
	case err != nil:
		return nil, fileErr(rel, err)
	}
	return data, nil
}

func (b *Box) readFile(_ context.Context, a args) (string, error) {
	rel, err := b.pathArg(a, "path", "")
	if err != nil {
		return "", err
	}
	offset, err := a.int("offset", 1)
	if err != nil {
		return "", err
	}
	limit, err := a.int("limit", 0)
	if err != nil {
		return "", err
	}
	if offset < 1 {
		offset = 1
	}
	if limit < 0 {
		return "", errors.New("limit must not be negative")
	}
	data, err := b.readAll(rel)
	if errors.Is(err, wtfile.ErrTooLarge) {
		return b.readLarge(rel, offset, limit)
	}
	if err != nil {
		return "", b.orSubmodule(rel, err)
	}
	if looksBinary(data) {
		return "", fmt.Errorf("%s looks like a binary file (%d bytes); not shown", rel, len(data))
	}
	if len(data) == 0 {
		return "(empty file)", nil
	}
	lines := strings.SplitAfter(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	total := len(lines)
	if offset > total {
		return "", fmt.Errorf("offset %d is past the end of %s (%d lines)", offset, rel, total)
	}
	end := total
	if limit > 0 && offset-1+limit < total {
		end = offset - 1 + limit
	}
	var sb strings.Builder
	last := offset - 1
	cut, clipped := false, 0
	for i := offset - 1; i < end; i++ {
		if sb.Len()+len(lines[i]) > readCap {
			if rest := readCap - sb.Len(); rest > 0 && sb.Len() == 0 {
				sb.WriteString(clip(lines[i], rest))
				last, clipped = i+1, len(lines[i])
			}
			cut = true
			break
		}
		sb.WriteString(lines[i])
		last = i + 1
	}
	if cut || end < total {
		if !strings.HasSuffix(sb.String(), "\n") {
			sb.WriteByte('\n')
		}
		switch {
		case clipped > 0:
			// one line longer than a read: the rest of it is not shown
			// anywhere, and must not read as shown
			fmt.Fprintf(&sb, "[line %d is %d bytes: only its start is shown, cut at 64 KiB; %d lines in all; continue with offset=%d]", last, clipped, total, last+1)
		case cut:
			fmt.Fprintf(&sb, "[truncated at 64 KiB; showed lines %d-%d of %d; continue with offset=%d]", offset, last, total, last+1)
		default:
			fmt.Fprintf(&sb, "[showed lines %d-%d of %d; continue with offset=%d]", offset, last, total, last+1)
		}
	}
	return withoutNUL(sb.String()), nil
}

// withoutNUL shows a NUL past the bytes looked at for binary files as
// U+FFFD: text with a stray one is still text, but a NUL is no character
// a model or its provider takes.
func withoutNUL(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// submoduleOf is the submodule (a path .gitmodules names) that rel is or
// is inside; "" when none. Its files are another repository's: not
// checked out in a ticket's worktree, and never in its commits.
func (b *Box) submoduleOf(rel string) string {
	b.subsOnce.Do(func() {
		data, err := b.root.ReadFile(".gitmodules")
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(data), "\n") {
			key, value, ok := strings.Cut(strings.TrimSpace(line), "=")
			if ok && strings.TrimSpace(key) == "path" {
				if p := path.Clean(strings.Trim(strings.TrimSpace(value), `"`)); p != "." && p != "" {
					b.subs = append(b.subs, p)
				}
			}
		}
	})
	r := filepath.ToSlash(rel)
	for _, s := range b.subs {
		if r == s || strings.HasPrefix(r, s+"/") {
			return s
		}
	}
	return ""
}

// inSubmodule is the error for rel inside submodule sub.
func inSubmodule(rel, sub string) error {
	return fmt.Errorf("%s is inside the git submodule %s: another repository's files, not checked out in the ticket's worktree and never in its commits; change this repository's own files", shown(rel), sub)
}

// orSubmodule is err, said as what it is when rel is inside a submodule
// (its files are not there to read); nil stays nil otherwise.
func (b *Box) orSubmodule(rel string, err error) error {
	if sub := b.submoduleOf(rel); sub != "" {
		return inSubmodule(rel, sub)
	}
	return err
}

// readLarge is read_file of a file too large to load (over 32 MiB): its
// lines are streamed, those asked for kept (up to 64 KiB), and the rest
// not read at all (so not counted).
func (b *Box) readLarge(rel string, offset, limit int) (string, error) {
	f, fi, err := wtfile.OpenLinked(b.root, rel)
	if err != nil {
		return "", fileErr(rel, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	if head, _ := r.Peek(8000); looksBinary(head) {
		return "", fmt.Errorf("%s looks like a binary file (%d bytes); not shown", shown(rel), fi.Size())
	}
	var sb strings.Builder
	n, last, clipped := 0, offset-1, 0
	full, eof := false, false
	for limit == 0 || n < offset-1+limit {
		want := n+1 >= offset && !full
		room := 0
		if want {
			room = readCap - sb.Len()
		}
		line, size, err := nextLine(r, room)
		if size == 0 && err != nil {
			eof = true
			break
		}
		n++
		if want {
			if len(line) < size {
				// longer than what is left of the read
				if sb.Len() == 0 {
					sb.Write(line)
					last, clipped = n, size
				}
				full = true
				break
			}
			sb.Write(line)
			last = n
		}
		if err != nil {
			eof = true
			break
		}
	}
	if n < offset {
		return "", fmt.Errorf("offset %d is past the end of %s (%d lines)", offset, shown(rel), n)
	}
	if !strings.HasSuffix(sb.String(), "\n") {
		sb.WriteByte('\n')
	}
	switch {
	case eof && !full:
		fmt.Fprintf(&sb, "[showed lines %d-%d, the end of the file (%d lines, %d bytes)]", offset, last, n, fi.Size())
	case clipped > 0:
		fmt.Fprintf(&sb, "[line %d is %d bytes: only its start is shown, cut at 64 KiB; the file is %d bytes, too large to count its lines; continue with offset=%d]", last, clipped, fi.Size(), last+1)
	default:
		fmt.Fprintf(&sb, "[showed lines %d-%d of a file of %d bytes, too large to count its lines; continue with offset=%d]", offset, last, fi.Size(), last+1)
	}
	return withoutNUL(sb.String()), nil
}

// nextLine reads one line of r (its newline included), keeping at most
// keep bytes of it; size is the whole line's.
func nextLine(r *bufio.Reader, keep int) (line []byte, size int, err error) {
	for {
		part, err := r.ReadSlice('\n')
		size += len(part)
		if room := keep - len(line); room > 0 {
			line = append(line, part[:min(room, len(part))]...)
		}
		if err != bufio.ErrBufferFull {
			return line, size, err
		}
	}
}

func (b *Box) writeFile(_ context.Context, a args) (string, error) {
	rel, err := b.pathArg(a, "path", "")
	if err != nil {
		return "", err
	}
	content, err := a.str("content")
	if err != nil {
		return "", err
	}
	if err := b.write(rel, []byte(content)); err != nil {
		return "", err
	}
	return fmt.Sprintf("ok: wrote %d bytes to %s", len(content), shown(rel)), nil
}

func (b *Box) write(rel string, data []byte) error {
	if rel == "." {
		return errors.New("path names the worktree itself, not a file")
	}
	if isGitPath(rel) {
		return errors.New(".git belongs to git and cannot be written")
	}
	if err := b.orSubmodule(rel, nil); err != nil {
		// written, it would be left out of every commit without a word
		return err
	}
	if i := strings.IndexFunc(rel, unreadable); i >= 0 {
		// U+202E makes "tset_esrever.og" read as "reverse_test.go" in a diff
		return fmt.Errorf("the path has a control or text-direction character (%U): it would not read as it is", []rune(rel[i:])[0])
	}
	if dir := filepath.Dir(rel); dir != "." {
		if err := b.root.MkdirAll(dir, 0o755); err != nil {
			return fileErr(dir, err)
		}
	}
	st, err := b.root.Stat(rel)
	if err == nil && st.IsDir() {
		return fmt.Errorf("%s is a directory", shown(rel))
	} else if err == nil && !st.Mode().IsRegular() {
		// opening a FIFO to write waits for a reader
		return fmt.Errorf("%s is not a regular file (%s)", rel, st.Mode().Type())
	}
	existed := err == nil
	var before []byte
	if existed && st.Size() <= maxRestore {
		before, _ = b.root.ReadFile(rel)
	}
	if err := b.root.WriteFile(rel, data, 0o644); err != nil {
		// a write cut short (a full disk) must not leave half a file for
		// the commit: the file goes back to what it was
		switch {
		case !existed:
			b.root.Remove(rel)
		case before != nil && b.root.WriteFile(rel, before, st.Mode().Perm()) == nil:
		default:
			return fmt.Errorf("%w (and it could not be put back as it was: it may be cut short)", fileErr(rel, err))
		}
		return fileErr(rel, err)
	}
	return nil
}

// maxRestore bounds what a write keeps of a file's old content to put it
// back if the write fails.
const maxRestore = 8 << 20

func (b *Box) editFile(_ context.Context, a args) (string, error) {
	rel, err := b.pathArg(a, "path", "")
	if err != nil {
		return "", err
	}
	oldS, err := a.str("old_string")
	if err != nil {
		return "", err
	}
	newS, err := a.str("new_string")
	if err != nil {
		return "", err
	}
	if oldS == "" {
		return "", errors.New("old_string is empty; use write_file to create a file")
	}
	if oldS == newS {
		return "", errors.New("old_string and new_string are the same; nothing to change")
	}
	data, err := b.readAll(rel)
	if err != nil {
		return "", b.orSubmodule(rel, err)
	}
	switch n := strings.Count(string(data), oldS); n {
	case 1:
	case 0:
		return "", fmt.Errorf("old_string occurs 0 times in %s; read the file and copy the text exactly", shown(rel))
	default:
		return "", fmt.Errorf("old_string occurs %d times in %s; include more surrounding text so it occurs once", n, shown(rel))
	}
	if err := b.write(rel, []byte(strings.Replace(string(data), oldS, newS, 1))); err != nil {
		return "", err
	}
	return "ok: edited " + shown(rel), nil
}

func (b *Box) listDir(_ context.Context, a args) (string, error) {
	rel, err := b.pathArg(a, "path", ".")
	if err != nil {
		return "", err
	}
	f, err := b.root.Open(rel)
	if err != nil {
		return "", b.orSubmodule(rel, fileErr(rel, err))
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return "", fileErr(rel, err)
	}
	offset, err := a.int("offset", 1)
	if err != nil {
		return "", err
	}
	offset = max(offset, 1)
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	entries = slices.DeleteFunc(entries, func(e fs.DirEntry) bool { return e.Name() == ".git" })
	if offset > max(len(entries), 1) {
		return "", fmt.Errorf("offset %d is past the end of %s (%d entries)", offset, shown(rel), len(entries))
	}
	if len(entries) == 0 {
		if err := b.orSubmodule(rel, nil); err != nil {
			return "", err
		}
		return "(empty directory)", nil
	}
	var sb strings.Builder
	for i, e := range entries[offset-1:] {
		if i == maxListEntries {
			fmt.Fprintf(&sb, "[listed entries %d-%d of %d; continue with offset=%d]\n", offset, offset+i-1, len(entries), offset+i)
			break
		}
		sb.WriteString(quoteName(e.Name()))
		switch {
		case e.IsDir():
			sb.WriteByte('/')
		case e.Type()&fs.ModeSymlink != 0:
			sb.WriteByte('@')
		}
		sb.WriteByte('\n')
	}
	return strings.TrimSuffix(sb.String(), "\n"), nil
}

func (b *Box) search(ctx context.Context, a args) (string, error) {
	pat, err := a.str("pattern")
	if err != nil {
		return "", err
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return "", fmt.Errorf("bad pattern: %v", err)
	}
	rel, err := b.pathArg(a, "path", ".")
	if err != nil {
		return "", err
	}
	start := filepath.ToSlash(rel)
	if err := b.orSubmodule(rel, nil); err != nil {
		return "", err
	}
	if _, err := b.root.Stat(rel); err != nil {
		return "", fileErr(rel, err)
	}
	// a file with no match at all is passed over in one pass of the
	// pattern over it (most files; line by line it was 5-10 times
	// grep's time): as its lines read it, ^ and $ at line ends. \A and
	// \z mean a line's start and end there, not the file's.
	var whole *regexp.Regexp
	if !strings.Contains(pat, `\A`) && !strings.Contains(pat, `\z`) {
		whole, _ = regexp.Compile("(?m:" + pat + ")")
	}
	fsys := b.root.FS()
	var sb strings.Builder
	var large []string // too large to search: said, not passed over unseen
	matches := 0
	errStop := errors.New("stop")
	err = fs.WalkDir(fsys, start, func(p string, d fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return nil // unreadable entries are skipped, not fatal
		}
		if d.Name() == ".git" {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err == nil && d.Type()&fs.ModeSymlink != 0 {
			info, err = fs.Stat(fsys, p) // what it points to, inside the worktree
		}
		if err == nil && info.Mode().IsRegular() && info.Size() > maxSearchBytes {
			large = append(large, quoteName(path.Clean(p)))
			return nil
		}
		if err != nil || !info.Mode().IsRegular() {
			return nil // FIFOs, devices, sockets are skipped
		}
		data, err := b.readAll(filepath.FromSlash(p))
		if err != nil || len(data) > maxSearchBytes || looksBinary(data) {
			return nil
		}
		// (lines read without their \r: a CRLF file goes line by line)
		if whole != nil && bytes.IndexByte(data, '\r') < 0 && !whole.Match(data) {
			return nil
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 0, 64<<10), maxSearchBytes+1)
		for line := 1; sc.Scan(); line++ {
			if !re.Match(sc.Bytes()) {
				continue
			}
			if matches == maxMatches {
				fmt.Fprintf(&sb, "[stopped after %d matches; narrow the pattern or path]\n", maxMatches)
				return errStop
			}
			matches++
			fmt.Fprintf(&sb, "%s:%d:%s\n", searchName(path.Clean(p)), line, clip(strings.TrimRight(sc.Text(), "\r"), maxMatchLine))
		}
		return nil
	})
	if err != nil && err != errStop {
		return "", fmt.Errorf("search stopped: %v", err)
	}
	if len(large) > 0 {
		names := strings.Join(large[:min(len(large), 5)], ", ")
		if len(large) > 5 {
			names += fmt.Sprintf(" and %d more", len(large)-5)
		}
		fmt.Fprintf(&sb, "[not searched, over %d MiB: %s]\n", maxSearchBytes>>20, names)
	}
	if matches == 0 {
		return strings.TrimSuffix("no matches\n"+sb.String(), "\n"), nil
	}
	return strings.TrimSuffix(sb.String(), "\n"), nil
}
