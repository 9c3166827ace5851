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
	// partCol is the cells of part's first partAt bytes: where a tab goes
	partCol, partAt int
	raw             int // bytes received, before sanitising (compared with snapshots)
	// held is the end of the last delta until the next one says what it
	// is: a character or an escape sequence cut in two, a carriage return
	// (a line's end before "\n", else the start of the line written over)
	held string

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
	// sanitized apart, the halves of a cut character could join into a
	// control (C2 + 9B is U+009B), those of a sequence show as "[32m"
	if n := heldLen(text); n > 0 {
		text, s.held = text[:len(text)-n], text[len(text)-n:]
	}
	text = clean(text, true)
	for text != "" {
		i := strings.IndexAny(text, "\n\r\t\b")
		if i < 0 {
			s.part.WriteString(text)
			return
		}
		s.part.WriteString(text[:i])
		switch text[i] {
		case '\n':
			s.lines = append(s.lines, s.part.String())
			s.newPart()
		case '\t':
			s.partCol += ansi.StringWidth(s.part.String()[s.partAt:])
			pad := tabStop - s.partCol%tabStop
			s.part.WriteString("        "[:pad])
			s.partCol, s.partAt = s.partCol+pad, s.part.Len()
		case '\b':
			s.backspace()
		case '\r':
			// what follows is written over the line, as in a terminal
			if i+1 < len(text) && text[i+1] != '\n' && text[i+1] != '\r' {
				s.newPart()
			}
		}
		text = text[i+1:]
	}
}

// backspace takes back the last character of the line being written,
// as sanitize does.
func (s *streamBuf) backspace() {
	cur := s.part.String()
	if cur == "" {
		return
	}
	_, size := utf8.DecodeLastRuneInString(cur)
	if len(cur) == s.partAt {
		s.partCol -= ansi.StringWidth(cur[len(cur)-size:])
		s.partAt -= size
	}
	s.part = strings.Builder{}
	s.part.WriteString(cur[:len(cur)-size])
}

// newPart starts a line: a fresh builder, as a string taken from the old
// one shares its memory.
func (s *streamBuf) newPart() {
	s.part = strings.Builder{}
	s.partCol, s.partAt = 0, 0
}

// maxHeld bounds what a delta's end holds back: an escape sequence longer
// than that is sanitized in pieces.
const maxHeld = 4 << 10

// heldLen is the length of what ends text unfinished: an escape sequence,
// a character, carriage returns; 0 if nothing.
func heldLen(text string) int {
	lo := max(len(text)-maxHeld, 0)
	if strings.IndexByte(text[lo:], 0x1b) < 0 && strings.IndexByte(text[lo:], 0xc2) < 0 {
		lo = len(text) // no sequence to look for: a delta's common case, skipped at SIMD speed
	}
	for j := len(text) - 1; j >= lo; j-- {
		c := text[j]
		if c != 0x1b && (c != 0xc2 || j+1 == len(text) || text[j+1] < 0x80 || text[j+1] > 0x9f) {
			continue
		}
		if _, ended := escLen(text, j); !ended {
			return len(text) - j
		}
		break
	}
	if n := cutRune(text); n > 0 {
		return n
	}
	// a flag's first half waits for its second
	if j := len(text) - 4; j >= 0 && riRun(text, j) == 4 {
		k := j
		for k >= 4 && riRun(text, k-4) > 0 {
			k -= 4
		}
		if riRun(text, k)%8 != 0 {
			return 4
		}
	}
	n := 0
	for n < len(text) && text[len(text)-1-n] == '\r' {
		n++
	}
	return n
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

// wrapRows wraps plain text to width w.
func wrapRows(line string, w int) []string {
	if w <= 0 {
		return []string{""}
	}
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		// each line of a multi-line text (an objection, a command) is
		// its own rows: a "\n" in a row would add a row to the frame
		return append(wrapRows(line[:i], w), wrapRows(line[i+1:], w)...)
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
	for _, c := range []byte{0x7f, 0xc2, 0xd8, 0xe2, 0xef, 0xf0, 0xf3} {
		t[c] = true
	}
	return t
}()

// special is what sanitize does with the character at s[i] (lead[s[i]],
// not a C0 or DEL): its length n, 0 to keep it, and whether it is shown as
// "<U+XXXX>" or dropped. A C1 control is dropped with the sequence it
// starts (see escLen).
func special(s string, i int) (n int, show bool) {
	var c1, c2, c3 byte
	if i+1 < len(s) {
		c1 = s[i+1]
	}
	if i+2 < len(s) {
		c2 = s[i+2]
	}
	if i+3 < len(s) {
		c3 = s[i+3]
	}
	switch s[i] {
	case 0xc2:
		// a C1 control (U+0080-U+009F): U+009B is a CSI and U+009D an OSC
		// to terminals that read them in UTF-8 (VTE)
		if c1 >= 0x80 && c1 <= 0x9f {
			n, _ := escLen(s, i)
			return n, false
		}
		if c1 == 0xad {
			// a soft hyphen: no cell to the layout, one to tmux
			return 2, false
		}
	case 0xd8:
		if c1 == 0x9c { // U+061C ARABIC LETTER MARK, a bidi control
			return 2, true
		}
	case 0xe2:
		switch {
		case c1 == 0x80 && c2 == 0x8d, c1 == 0x83 && c2 == 0xa3:
			// a zero-width joiner glues emoji into one glyph in some
			// terminals and not in others (tmux), as the keycap U+20E3
			// widens its digit: without them every terminal draws, and
			// the layout counts, the same cells
			return 3, false
		case c1 == 0x80 && (c2 == 0x8e || c2 == 0x8f || c2 >= 0xaa && c2 <= 0xae),
			c1 == 0x81 && c2 >= 0xa6 && c2 <= 0xa9:
			// a bidi control (U+200E/F, U+202A-E, U+2066-9) reorders the
			// text after it: a diff line would read as other code than
			// it is (Trojan Source), so it is shown, not obeyed
			return 3, true
		}
	case 0xef:
		if c1 == 0xb8 && (c2 == 0x8e || c2 == 0x8f) {
			// VS15/VS16 (☀️) make some terminals draw 2 cells, others 1
			return 3, false
		}
	case 0xf0:
		if c1 == 0x9f && c2 == 0x8f && c3 >= 0xbb && c3 <= 0xbf {
			// a skin tone (U+1F3FB-F) is a second emoji to tmux (👍🏽 is 4
			// cells), one glyph to others
			return 4, false
		}
	case 0xf3:
		if c1 == 0xa0 && (c2 == 0x80 || c2 == 0x81) && c3 >= 0x80 && c3 <= 0xbf {
			// tag characters (U+E0000-7F) spell subdivision flags (🏴 and
			// a region), a glyph to few terminals
			return 4, false
		}
	}
	return 0, false
}

// riRun is the length in bytes of the run of regional indicators
// (U+1F1E6-U+1F1FF, 4 bytes each) at s[i], or 0.
func riRun(s string, i int) int {
	j := i
	for j+3 < len(s) && s[j] == 0xf0 && s[j+1] == 0x9f && s[j+2] == 0x87 && s[j+3] >= 0xa6 && s[j+3] <= 0xbf {
		j += 4
	}
	return j - i
}

// escLen is the length of the escape sequence that starts at s[i] (ESC,
// or a C1 control in UTF-8), and whether it ends in s. A string (OSC, DCS,
// APC…) ends at BEL or ST, or before a line break: one not ended hides no
// more than the rest of its line.
func escLen(s string, i int) (n int, ended bool) {
	j, str := i+1, false
	if s[i] == 0x1b {
		if j == len(s) {
			return 1, false
		}
		switch s[j] {
		case '[':
			j++
		case ']', 'P', 'X', '^', '_':
			j, str = j+1, true
		default: // ESC, intermediates, a final byte (ESC 7, ESC ( B)
			for j < len(s) && s[j] >= 0x20 && s[j] <= 0x2f {
				j++
			}
			if j == len(s) {
				return j - i, false
			}
			if s[j] >= 0x30 && s[j] <= 0x7e {
				j++
			}
			return j - i, true
		}
	} else {
		j = i + 2
		switch s[i+1] {
		case 0x9b: // CSI
		case 0x9d, 0x90, 0x98, 0x9e, 0x9f: // OSC, DCS, SOS, PM, APC
			str = true
		default:
			return 2, true
		}
	}
	if !str {
		for j < len(s) && s[j] >= 0x20 && s[j] <= 0x3f {
			j++
		}
		if j == len(s) {
			return j - i, false
		}
		if s[j] >= 0x40 && s[j] <= 0x7e {
			j++
		}
		return j - i, true
	}
	for ; j < len(s); j++ {
		switch c := s[j]; {
		case c == 0x07:
			return j + 1 - i, true
		case c == '\n':
			return j - i, true
		case c == 0x1b:
			if j+1 < len(s) && s[j+1] == '\\' {
				return j + 2 - i, true
			}
			return j - i, j+1 < len(s)
		case c == 0xc2 && j+1 < len(s) && s[j+1] == 0x9c:
			return j + 2 - i, true
		}
	}
	return j - i, false
}

// tabStop is where a tab takes the text, as in a terminal.
const tabStop = 8

// sanitize removes what a model's or a command's text could use to drive
// the terminal: escape sequences whole (colours would leave "[32m"), C0
// and C1 controls. A carriage return keeps what a terminal would show of
// its line, the text after it (a progress bar's last state); before a
// line break it is the line's end. Tabs are expanded to the next tab stop;
// joiners, variation selectors and skin tones are dropped (terminals
// disagree on their width); bidi controls are shown as "<U+202E>".
func sanitize(s string) string { return clean(s, false) }

// steadyGlyphs drops from an input's rendering (styled, with its cursor)
// what sanitize drops (special: characters terminals draw at different
// widths, controls), and of an emoji sequence joined by ZWJs (👨‍💻) the
// emoji after the first, as the input counts the cells of one emoji for
// all of it (tmux draws each). What was typed keeps them all.
func steadyGlyphs(s string) string {
	dropAt := func(i int) int {
		if c := s[i]; c >= 0x80 && lead[c] {
			n, _ := special(s, i)
			return n
		}
		return 0
	}
	first := 0
	for first < len(s) && dropAt(first) == 0 {
		first++
	}
	if first == len(s) {
		return s // the common case, every frame a dialog is open
	}
	var b strings.Builder
	b.WriteString(s[:first])
	joined := false // the character after a ZWJ goes with it
	for i := first; i < len(s); {
		if n := dropAt(i); n > 0 {
			joined = strings.HasPrefix(s[i:], "\u200d")
			i += n
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		if !joined || s[i] == 0x1b { // (a style's sequence is never dropped)
			b.WriteString(s[i : i+size])
		}
		joined = false
		i += size
	}
	return b.String()
}

// prose is sanitize for words (an objection, a reason, a title), not a
// terminal's output: a carriage return breaks the line, where a terminal
// would write what follows over what came before it.
func prose(s string) string {
	if strings.IndexByte(s, '\r') >= 0 { // rare: most text is spared the replacer, per frame
		s = proseBreaks.Replace(s)
	}
	return sanitize(s)
}

var proseBreaks = strings.NewReplacer("\r\n", "\n", "\r", "\n")

// oneLine is prose for a place that has one row (a title, a header):
// the lines of s are joined by spaces.
func oneLine(s string) string {
	return strings.ReplaceAll(prose(s), "\n", " ")
}

// clean is sanitize; raw keeps tabs and carriage returns for a caller
// that places them itself (a stream's line spans deltas, a diff marks
// them).
func clean(s string, raw bool) string {
	i := 0
	for ; i < len(s); i++ {
		if c := s[i]; lead[c] {
			if c < 0x80 {
				break
			}
			if k := riRun(s, i); k > 0 {
				if k%8 != 0 {
					break
				}
				i += k - 1
				continue
			}
			if n, _ := special(s, i); n > 0 {
				break
			}
		}
	}
	if i == len(s) {
		return s
	}
	b := make([]byte, 0, len(s)+3*strings.Count(s[i:], "\t"))
	// kept text is copied a run at a time, s[from:i]; line is where the
	// line being written starts in b, col the cells of b[line:at]
	from, line, col := 0, strings.LastIndexByte(s[:i], '\n')+1, 0
	at := line
	for i < len(s) {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		if c == '\n' {
			i++
			b = append(b, s[from:i]...)
			from, line, col, at = i, len(b), 0, len(b)
			continue
		}
		if c < 0x80 {
			b = append(b, s[from:i]...)
			n := 1
			switch {
			case raw && (c == '\t' || c == '\r' || c == '\b'):
				b = append(b, c)
			case c == '\b':
				// back over the line's last character, which what follows
				// writes over (a spinner's frames; overstrike: _\ba)
				if len(b) > line {
					_, size := utf8.DecodeLastRune(b)
					if len(b) == at { // into what a tab stop was counted from
						col -= ansi.StringWidth(string(b[len(b)-size:]))
						at -= size
					}
					b = b[:len(b)-size]
				}
			case c == '\t':
				col += ansi.StringWidth(string(b[at:]))
				pad := tabStop - col%tabStop
				b = append(b, "        "[:pad]...)
				col, at = col+pad, len(b)
			case c == '\r':
				for i+n < len(s) && s[i+n] == '\r' {
					n++
				}
				if i+n < len(s) && s[i+n] != '\n' {
					// the text after it is written over the line
					b, col, at = b[:line], 0, line
				}
			case c == 0x1b:
				n, _ = escLen(s, i)
			}
			i += n
			from = i
			continue
		}
		if k := riRun(s, i); k > 0 {
			if k%8 != 0 {
				// a lone regional indicator: one cell to tmux, two to
				// others; in pairs (flags) they agree
				b = append(b, s[from:i+k-4]...)
				from = i + k
			}
			i += k
			continue
		}
		n, show := special(s, i)
		if n == 0 {
			if r, size := utf8.DecodeRuneInString(s[i:]); r != utf8.RuneError || size > 1 {
				i += size
				continue
			}
		}
		b = append(b, s[from:i]...)
		switch {
		case n == 0:
			// a stray byte becomes U+FFFD: left raw, it could join with
			// bytes around a dropped control into a C1 or bidi control
			b = append(b, "\ufffd"...)
			n = 1
		case show:
			r, _ := utf8.DecodeRuneInString(s[i:])
			b = fmt.Appendf(b, "<U+%04X>", r)
		}
		i += n
		from = i
	}
	b = append(b, s[from:]...)
	return string(b)
}
