package ui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// diffData is a branch diff split into lines once, with the line index of
// each file header. Only the lines on screen are styled per frame, so a
// 50,000-line diff opens and scrolls as fast as a small one.
type diffData struct {
	key     string    // the ticket state it was fetched in
	fetched time.Time // when the fetch started: a human may edit the worktree since
	lines   []string
	files   []int    // line index of each "diff --git" header
	names   []string // file path per header
	err     error
	top     int
}

// parseDiff runs in the command that fetched the diff, off the UI loop.
func parseDiff(s string) *diffData {
	d := &diffData{}
	if s == "" {
		return d
	}
	// every line, once, off the UI loop: any line can carry an ESC, a C1
	// CSI or a bidi override, and window then draws lines as they are
	d.lines = strings.Split(strings.TrimRight(sanitize(s), "\n"), "\n")
	for i, l := range d.lines {
		if strings.HasPrefix(l, "diff --git ") {
			d.files = append(d.files, i)
			d.names = append(d.names, diffFileName(l))
		}
	}
	return d
}

// diffFileName takes "diff --git a/x b/x" to "x".
func diffFileName(header string) string {
	rest := strings.TrimPrefix(header, "diff --git ")
	if i := strings.Index(rest, " b/"); i >= 0 {
		return rest[i+3:]
	}
	return rest
}

// fileAt is the index of the file that line i belongs to, or -1.
func (d *diffData) fileAt(i int) int {
	return sort.SearchInts(d.files, i+1) - 1
}

// jump moves top to the next (dir 1) or previous (dir -1) file.
func (d *diffData) jump(dir int) {
	if len(d.files) == 0 {
		return
	}
	cur := d.fileAt(d.top)
	switch {
	case dir > 0:
		if cur+1 < len(d.files) {
			d.top = d.files[cur+1]
		}
	case cur >= 0 && d.files[cur] < d.top:
		d.top = d.files[cur] // back to the start of this file first
	case cur > 0:
		d.top = d.files[cur-1]
	}
}

func (d *diffData) header() string {
	if len(d.lines) == 0 {
		return ""
	}
	f := d.fileAt(d.top)
	if f < 0 {
		return fmt.Sprintf("%d files · %d lines", len(d.files), len(d.lines))
	}
	return fmt.Sprintf("file %d/%d %s · line %d/%d · [ ] files", f+1, len(d.files), d.names[f], d.top+1, len(d.lines))
}

// window styles the h lines from top, cut to width w.
func (d *diffData) window(st *styles, w, h int) []string {
	end := min(d.top+h, len(d.lines))
	out := make([]string, 0, h)
	for i := d.top; i < end; i++ {
		l := ansi.Truncate(d.lines[i], w, "…")
		switch {
		case strings.HasPrefix(l, "diff --git"), strings.HasPrefix(l, "+++ "), strings.HasPrefix(l, "--- "),
			strings.HasPrefix(l, "index "), strings.HasPrefix(l, "new file"), strings.HasPrefix(l, "deleted file"):
			l = st.diffFile.Render(l)
		case strings.HasPrefix(l, "@@"):
			l = st.diffHunk.Render(l)
		case strings.HasPrefix(l, "+"):
			l = st.diffAdd.Render(l)
		case strings.HasPrefix(l, "-"):
			l = st.diffDel.Render(l)
		}
		out = append(out, l)
	}
	return out
}
