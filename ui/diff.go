package ui

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"agent-tui/engine"
)

// diffData is a branch diff split into lines once, with the line index of
// each file header. Only the lines on screen are styled per frame, so a
// 50,000-line diff opens and scrolls as fast as a small one.
type diffData struct {
	key     string    // the ticket state it was fetched in
	fetched time.Time // when the fetch started: a human may edit the worktree since
	lines   []string
	kinds   []byte   // per line: 'f' file header, '@' hunk header, '+', '-', ' '
	files   []int    // line index of each "diff --git" header
	names   []string // file path per header
	err     error
	top     int
	left    int // the first column shown: long lines scroll sideways
	// pin is the file [ or ] went to, plus one (0: none, the file at top):
	// near the end the top stops at the last page, in an earlier file
	pin int
}

// parseDiff runs in the command that fetched the diff, off the UI loop.
func parseDiff(s string) *diffData {
	d := &diffData{}
	if s == "" {
		return d
	}
	// every line, once, off the UI loop: any line can carry an ESC, a C1
	// CSI or a bidi override, and window then draws lines as they are
	d.lines = strings.Split(strings.TrimRight(s, "\n"), "\n")
	d.kinds = make([]byte, len(d.lines))
	// a hunk's lines are counted by its @@ header: only outside hunks is
	// "--- x" a file's header, inside it is a removed "-- x"
	oldN, newN, unknown := 0, 0, false // lines left in the hunk; unknown: to the next file
	for i, l := range d.lines {
		// a Latin-1 file's bytes are no UTF-8: shown as �, where the
		// terminal would drop them and "naïve" read "nave"
		l = clean(strings.ToValidUTF8(l, "\uFFFD"), true)
		if len(l) > maxDiffLine {
			// a minified file's megabyte line: drawn whole at every
			// frame and every step sideways, it made each take a second
			cut := maxDiffLine
			for cut > 0 && !utf8.RuneStart(l[cut]) {
				cut--
			}
			l = l[:cut] + fmt.Sprintf(" … [%d more bytes on this line: see git diff in the worktree]", len(l)-cut)
		}
		d.lines[i] = l
		inHunk := unknown || oldN > 0 || newN > 0
		switch {
		case strings.HasPrefix(l, "diff --git "):
			d.kinds[i], oldN, newN, unknown = 'f', 0, 0, false
			d.files = append(d.files, i)
			d.names = append(d.names, diffFileName(l))
		case strings.HasPrefix(l, "@@") && (!inHunk || unknown):
			var ok bool
			d.kinds[i] = '@'
			oldN, newN, ok = hunkCounts(l)
			unknown = !ok
		case !inHunk:
			d.kinds[i] = 'f'
		case l == "" || l[0] == ' ':
			d.kinds[i], oldN, newN = ' ', oldN-1, newN-1
		case l[0] == '-':
			d.kinds[i], oldN = '-', oldN-1
		case l[0] == '+':
			d.kinds[i], newN = '+', newN-1
		default: // "\ No newline at end of file"
			d.kinds[i] = ' '
		}
	}
	marked := wsOnlyChanges(d.lines, d.kinds)
	for i, l := range d.lines {
		d.lines[i] = showWhitespace(l, marked[i])
	}
	return d
}

// hunkCounts reads the old and new line counts of "@@ -a,b +c,d @@".
func hunkCounts(l string) (oldN, newN int, ok bool) {
	f := strings.Fields(l)
	if len(f) < 3 || !strings.HasPrefix(f[1], "-") || !strings.HasPrefix(f[2], "+") {
		return 0, 0, false
	}
	count := func(r string) (int, bool) {
		_, n, found := strings.Cut(r[1:], ",")
		if !found {
			return 1, true
		}
		c, err := strconv.Atoi(n)
		return c, err == nil
	}
	oldN, ok1 := count(f[1])
	newN, ok2 := count(f[2])
	return oldN, newN, ok1 && ok2
}

// wsOnlyChanges marks the removed and added lines of a change that
// differ only in whitespace (a tab become spaces, a trailing blank, a line
// ending): drawn as they are, they read as the same line removed and
// added.
func wsOnlyChanges(lines []string, kinds []byte) []bool {
	marked := make([]bool, len(lines))
	for i := 0; i < len(lines); {
		if kinds[i] != '-' {
			i++
			continue
		}
		del := i
		for i < len(lines) && kinds[i] == '-' {
			i++
		}
		add := i
		for i < len(lines) && kinds[i] == '+' {
			i++
		}
		if add == i {
			continue
		}
		added := map[string][]int{}
		for j := add; j < i; j++ {
			k := strings.Join(strings.Fields(lines[j][1:]), " ")
			added[k] = append(added[k], j)
		}
		for j := del; j < add; j++ {
			for _, a := range added[strings.Join(strings.Fields(lines[j][1:]), " ")] {
				if lines[a][1:] != lines[j][1:] {
					marked[j], marked[a] = true, true
				}
			}
		}
	}
	return marked
}

// showWhitespace expands a diff line's tabs to the next tab stop, as git
// diff shows in a terminal, and shows a carriage return as "␍". Marked
// (see wsOnlyChanges), a tab is "→" and trailing blanks "·".
func showWhitespace(l string, mark bool) string {
	if !strings.ContainsAny(l, "\t\r") && !(mark && strings.HasSuffix(l, " ")) {
		return l
	}
	var b strings.Builder
	col := 0
	for len(l) > 0 {
		i := strings.IndexAny(l, "\t\r")
		if i < 0 {
			i = len(l)
		}
		b.WriteString(l[:i])
		col += ansi.StringWidth(l[:i])
		if i == len(l) {
			break
		}
		if l[i] == '\r' {
			b.WriteString("␍")
			col++
		} else {
			pad := tabStop - col%tabStop
			if mark {
				b.WriteString("→")
				pad--
				col++
			}
			b.WriteString(strings.Repeat(" ", pad))
			col += pad
		}
		l = l[i+1:]
	}
	s := b.String()
	if mark {
		t := strings.TrimRight(s, " ")
		s = t + strings.Repeat("·", len(s)-len(t))
	}
	return s
}

// maxDiffLine is the most of one diff line kept to show, in bytes.
const maxDiffLine = 8 << 10

// diffFileName takes "diff --git a/x b/x" to "x"; a name git quoted (it
// holds a newline, a quote, a control character) is unquoted.
func diffFileName(header string) string {
	name, _ := engine.DiffFileName(header)
	if strings.HasPrefix(name, `"`) {
		// git's quoting is C's, which Go's reads; the name is shown
		// cleaned, as the diff's lines are
		if unquoted, err := strconv.Unquote(name); err == nil {
			return nameShown.Replace(clean(unquoted, true))
		}
	}
	return name
}

var nameShown = strings.NewReplacer("\n", "↵", "\r", "␍", "\t", "→")

// fileAt is the index of the file that line i belongs to, or -1.
func (d *diffData) fileAt(i int) int {
	return sort.SearchInts(d.files, i+1) - 1
}

// file is the file the view is at: the one [ or ] went to, else the one
// at the top.
func (d *diffData) file() int {
	if d.pin > 0 {
		return d.pin - 1
	}
	return d.fileAt(d.top)
}

// jump moves top to the next (dir 1) or previous (dir -1) file of a pane h
// lines high, no further than the last page (where End goes).
func (d *diffData) jump(dir, h int) {
	cur, to := d.file(), -1
	switch {
	case len(d.files) == 0:
	case dir > 0:
		if cur+1 < len(d.files) {
			to = cur + 1
		}
	case cur >= 0 && d.files[cur] < d.top:
		to = cur // back to the start of this file first
	case cur > 0:
		to = cur - 1
	}
	if to < 0 {
		return
	}
	d.top, d.pin = min(d.files[to], max(len(d.lines)-h, 0)), to+1
}

// header names the file at the top and the line; with lines wider than w
// on screen, or scrolled sideways, the first column shown and the widest
// line's width on screen. A long path gives up its start ("…/slugify.go")
// so that the line and column fit in w.
func (d *diffData) header(w, h int) string {
	if len(d.lines) == 0 {
		return ""
	}
	var col string
	if widest := d.widest(h); widest > w || d.left > 0 {
		col = fmt.Sprintf(" · col %d/%d", d.left+1, max(widest, d.left+1))
	}
	f := d.file()
	if f < 0 {
		return fmt.Sprintf("%d files · %d lines", len(d.files), len(d.lines)) + col
	}
	head, name := fmt.Sprintf("file %d/%d ", f+1, len(d.files)), d.names[f]
	rest := fmt.Sprintf(" · line %d/%d", d.top+1, len(d.lines)) + col
	// the name gives up its start down to 4 cells, then the file count
	if over := ansi.StringWidth(head+name+rest) - w; over > 0 && ansi.StringWidth(name) > 4 {
		name = "…" + ansi.TruncateLeft(name, min(over, ansi.StringWidth(name)-3)+1, "")
	}
	if ansi.StringWidth(head+name+rest) > w {
		head = ""
	}
	s := head + name + rest
	if ansi.StringWidth(s+" · [ ] files") <= w {
		s += " · [ ] files"
	}
	return s
}

// widest is the width of the widest of the h lines from top.
func (d *diffData) widest(h int) int { return d.widestIn(d.top, d.top+h) }

// widestIn is the width of the widest of the lines [from, to).
func (d *diffData) widestIn(from, to int) int {
	n := 0
	for _, l := range d.lines[from:min(to, len(d.lines))] {
		n = max(n, ansi.StringWidth(l))
	}
	return n
}

// scroll moves the view sideways by dx columns, as far as the widest line
// on screen needs (its end at the pane's right edge); it never moves back
// left on its own, when the lines on screen are narrower than where it is.
func (d *diffData) scroll(dx, w, h int) {
	if dx < 0 {
		d.left = max(d.left+dx, 0)
		return
	}
	d.left = max(d.left, min(d.left+dx, d.widest(h)-w))
}

// fit takes the view back left as far as a pane w wide leaves nothing of
// the h lines from top hidden on the right (after the pane grew); of the
// lines from the file [ or ] went to, when it starts below the top.
func (d *diffData) fit(w, h int) {
	if len(d.lines) == 0 {
		return
	}
	from := d.top
	if f := d.file(); f >= 0 {
		from = max(from, d.files[f])
	}
	d.left = max(min(d.left, d.widestIn(from, d.top+h)-w), 0)
}

// window styles the h lines from top, w cells of each from column left.
func (d *diffData) window(st *styles, w, h int) []string {
	end := min(d.top+h, len(d.lines))
	out := make([]string, 0, h)
	for i := d.top; i < end; i++ {
		line := d.lines[i]
		l := sideways(line, d.left, w)
		// by what the line is, not what is on screen of it
		switch d.kinds[i] {
		case 'f':
			l = st.diffFile.Render(l)
		case '@':
			l = st.diffHunk.Render(l)
		case '+':
			l = st.diffAdd.Render(l)
		case '-':
			l = st.diffDel.Render(l)
		}
		out = append(out, l)
	}
	return out
}

// sideways is the w cells of a diff line from column off: "…" in the first
// cell when text is hidden left of them, in the last when it goes on past
// them. A line that ends left of them shows nothing.
func sideways(line string, off, w int) string {
	lw := ansi.StringWidth(line)
	switch {
	case off == 0 && lw <= w:
		return line
	case lw <= off:
		return ""
	case w < 3:
		return cells(line, off, off+w)
	}
	from, to := off, min(off+w, lw)
	left, right := off > 0, lw > off+w
	if left {
		from++
	}
	if right {
		to--
	}
	s := cells(line, from, to) // a wide character cut by an edge: blanks
	if left {
		s = "…" + s
	}
	if right {
		s += "…"
	}
	return s
}
