package ui

import (
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// streamBuf holds one attempt's streamed text split into lines as it
// arrives. Appending costs only the new text: the lines already complete are
// never looked at again, so a 5 MB stream takes a delta as cheaply as a 5 KB
// one.
type streamBuf struct {
	lines []string        // complete lines
	part  strings.Builder // the unfinished last line
	raw   int             // bytes received, before sanitising (compared with snapshots)

	// wrapped caches the wrap of complete lines at wrapW; they never change.
	wrapW   int
	wrapped map[int][]string
}

func newStreamBuf(text string) *streamBuf {
	s := &streamBuf{}
	s.Append(text)
	return s
}

// Append adds streamed text.
func (s *streamBuf) Append(text string) {
	s.raw += len(text)
	text = sanitize(text)
	for {
		i := strings.IndexByte(text, '\n')
		if i < 0 {
			s.part.WriteString(text)
			return
		}
		s.part.WriteString(text[:i])
		s.lines = append(s.lines, s.part.String())
		// a fresh builder: the string above shares the old one's memory
		s.part = strings.Builder{}
		text = text[i+1:]
	}
}

// Len is the number of lines, the unfinished one included.
func (s *streamBuf) Len() int {
	if s.part.Len() > 0 {
		return len(s.lines) + 1
	}
	return len(s.lines)
}

func (s *streamBuf) line(i int) string {
	if i < len(s.lines) {
		return s.lines[i]
	}
	return s.part.String()
}

// rows returns the wrapped rows of line i at width w, from the cache for
// complete lines.
func (s *streamBuf) rows(i, w int) []string {
	if i >= len(s.lines) {
		p := s.part.String()
		// only the tail of a huge unfinished line can be on screen
		if limit := w * 200; len(p) > limit {
			p = p[len(p)-limit:]
			for len(p) > 0 && !utf8.RuneStart(p[0]) {
				p = p[1:]
			}
		}
		return wrapRows(p, w)
	}
	if s.wrapW != w || s.wrapped == nil {
		s.wrapW = w
		s.wrapped = make(map[int][]string)
	}
	if r, ok := s.wrapped[i]; ok {
		return r
	}
	r := wrapRows(s.lines[i], w)
	s.wrapped[i] = r
	return r
}

// tailTop is the first line to show so that the last lines fill h rows.
func (s *streamBuf) tailTop(w, h int) int {
	n := s.Len()
	rows := 0
	for i := n - 1; i >= 0; i-- {
		rows += len(s.rows(i, w))
		if rows >= h {
			return i
		}
	}
	return 0
}

// window renders h rows at width w. With follow it shows the tail; else it
// starts at line top. kinds says per row whether it belongs to a tool call
// ('>'), a tool result ('<') or text (0), so the view can style it.
func (s *streamBuf) window(top, w, h int, follow bool) (rows []string, kinds []byte) {
	n := s.Len()
	if n == 0 || h <= 0 {
		return nil, nil
	}
	if follow {
		top = s.tailTop(w, h)
	}
	rows, kinds = make([]string, 0, h+8), make([]byte, 0, h+8)
	for i := clamp(top, 0, n-1); i < n && len(rows) < h; i++ {
		r := s.rows(i, w)
		k := lineKind(s.line(i))
		rows = append(rows, r...)
		for range r {
			kinds = append(kinds, k)
		}
	}
	if len(rows) > h {
		if follow {
			return rows[len(rows)-h:], kinds[len(kinds)-h:]
		}
		return rows[:h], kinds[:h]
	}
	return rows, kinds
}

// lineKind tells the tool-call lines the engine streams ("→ name args",
// "← result") from the model's text.
func lineKind(line string) byte {
	switch {
	case strings.HasPrefix(line, "→ "):
		return '>'
	case strings.HasPrefix(line, "← "):
		return '<'
	}
	return 0
}

// wrapRows wraps one line of plain text to width w.
func wrapRows(line string, w int) []string {
	if w <= 0 {
		return []string{""}
	}
	// a cell is at least one byte, so short lines need no measuring
	if len(line) <= w || ansi.StringWidth(line) <= w {
		return []string{line}
	}
	return strings.Split(ansi.Wrap(line, w, ""), "\n")
}

// zwj is U+200D ZERO WIDTH JOINER.
const zwj = "\u200d"

// sanitize removes what a model's text could use to drive the terminal
// (escape sequences, carriage returns), expands tabs, and drops zero-width
// joiners.
func sanitize(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\n') || c == 0x7f || c == zwj[0] && strings.HasPrefix(s[i:], zwj) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == zwj[0] && strings.HasPrefix(s[i:], zwj):
			// a zero-width joiner glues emoji into one glyph in some
			// terminals and not in others (tmux): without it every
			// terminal draws, and the layout counts, the same cells
			i += len(zwj) - 1
		case c == '\t':
			b.WriteString("    ")
		case c == '\n':
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
