package ui

import (
	"fmt"
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
	held  string          // a character cut at the end of the last delta

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
	if s.held != "" {
		text, s.held = s.held+text, ""
	}
	// a character cut between deltas waits for its end: sanitized apart,
	// its halves would pass and join into a control (C2 + 9B is U+009B)
	if n := cutRune(text); n > 0 {
		text, s.held = text[:len(text)-n], text[len(text)-n:]
	}
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

// cutRune is the length of an unfinished UTF-8 character ending s, or 0.
func cutRune(s string) int {
	for i := 1; i <= utf8.UTFMax-1 && i <= len(s); i++ {
		c := s[len(s)-i]
		if c < 0x80 {
			return 0
		}
		if c >= 0xc0 { // the first byte of a character
			if utf8.FullRuneInString(s[len(s)-i:]) {
				return 0
			}
			return i
		}
	}
	return 0
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

// lead marks the bytes sanitize stops at: C0 controls but '\n', DEL, and
// the first byte of each multi-byte character it drops or shows (see
// special). Any other byte, ASCII or not, is copied as it is.
var lead = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = c != '\n'
	}
	t[0x7f], t[0xc2], t[0xd8], t[0xe2] = true, true, true, true
	return t
}()

// special is what sanitize does with the character at s[i] (lead[s[i]],
// not a C0 or DEL): its length n, 0 to keep it, and whether it is shown as
// "<U+XXXX>" or dropped.
func special(s string, i int) (n int, show bool) {
	var c1, c2 byte
	if i+1 < len(s) {
		c1 = s[i+1]
	}
	if i+2 < len(s) {
		c2 = s[i+2]
	}
	switch s[i] {
	case 0xc2:
		// a C1 control (U+0080-U+009F): U+009B is a CSI and U+009D an OSC
		// to terminals that read them in UTF-8 (VTE)
		if c1 >= 0x80 && c1 <= 0x9f {
			return 2, false
		}
	case 0xd8:
		if c1 == 0x9c { // U+061C ARABIC LETTER MARK, a bidi control
			return 2, true
		}
	case 0xe2:
		switch {
		case c1 == 0x80 && c2 == 0x8d:
			// a zero-width joiner glues emoji into one glyph in some
			// terminals and not in others (tmux): without it every
			// terminal draws, and the layout counts, the same cells
			return 3, false
		case c1 == 0x80 && (c2 == 0x8e || c2 == 0x8f || c2 >= 0xaa && c2 <= 0xae),
			c1 == 0x81 && c2 >= 0xa6 && c2 <= 0xa9:
			// a bidi control (U+200E/F, U+202A-E, U+2066-9) reorders the
			// text after it: a diff line would read as other code than
			// it is (Trojan Source), so it is shown, not obeyed
			return 3, true
		}
	}
	return 0, false
}

// sanitize removes what a model's text could use to drive the terminal
// (C0 and C1 controls: escape sequences, carriage returns), expands tabs,
// drops zero-width joiners and shows bidi controls as "<U+202E>".
func sanitize(s string) string {
	i := 0
	for ; i < len(s); i++ {
		if c := s[i]; lead[c] {
			if c < 0x80 {
				break
			}
			if n, _ := special(s, i); n > 0 {
				break
			}
		}
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 3*strings.Count(s[i:], "\t")) // a tab takes four spaces
	// kept text is copied a run at a time: s[from:i]
	from := 0
	for i < len(s) {
		c := s[i]
		if c >= 0x20 && c < 0x7f || c == '\n' {
			i++
			continue
		}
		if c < 0x80 { // other C0 and DEL are dropped
			b.WriteString(s[from:i])
			if c == '\t' {
				b.WriteString("    ")
			}
			i++
			from = i
			continue
		}
		n, show := special(s, i)
		if n == 0 {
			if r, size := utf8.DecodeRuneInString(s[i:]); r != utf8.RuneError || size > 1 {
				i += size
				continue
			}
		}
		b.WriteString(s[from:i])
		switch {
		case n == 0:
			// a stray byte becomes U+FFFD: left raw, it could join with
			// bytes around a dropped control into a C1 or bidi control
			b.WriteString("\ufffd")
			n = 1
		case show:
			r, _ := utf8.DecodeRuneInString(s[i:])
			fmt.Fprintf(&b, "<U+%04X>", r)
		}
		i += n
		from = i
	}
	b.WriteString(s[from:])
	return b.String()
}
