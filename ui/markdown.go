package ui

import (
	"html"
	"strings"
	"sync"

	"charm.land/glamour/v2"
	gstyles "charm.land/glamour/v2/styles"

	tea "charm.land/bubbletea/v2"
)

// mdRenderer memoizes one glamour renderer per width: building one parses
// a whole style sheet, far more than rendering a short document.
type mdRenderer struct {
	mu      sync.Mutex // renders run in commands, concurrently
	style   string
	byWidth map[int]*glamour.TermRenderer
}

func newMDRenderer() *mdRenderer {
	return &mdRenderer{style: gstyles.DarkStyle, byWidth: map[int]*glamour.TermRenderer{}}
}

func (r *mdRenderer) render(md string, width int) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tr, ok := r.byWidth[width]
	if !ok {
		var err error
		// a line break is kept: bodies are pasted logs and lists of steps
		tr, err = glamour.NewTermRenderer(glamour.WithStandardStyle(r.style), glamour.WithWordWrap(width), glamour.WithPreservedNewLines())
		if err != nil {
			return "", err
		}
		r.byWidth[width] = tr
	}
	// glamour drops tabs, and with them a code block's indentation (sanitize
	// expands them); a lone carriage return would draw over the queue pane
	out, err := tr.Render(defuseRefs(prose(md)))
	if err != nil {
		return "", err
	}
	return strings.Trim(out, "\n"), nil
}

// defuseRefs replaces each character reference that stands for a
// character sanitize removes or shows (&#27; &#x202e; &rlm;) with what
// sanitize makes of it: glamour decodes them after sanitize has run, and
// would write an ESC or a bidi override out raw.
func defuseRefs(md string) string {
	i := strings.IndexByte(md, '&')
	if i < 0 {
		return md
	}
	var b strings.Builder
	for ; i >= 0; i = strings.IndexByte(md, '&') {
		n := refLen(md[i:])
		if n == 0 {
			b.WriteString(md[:i+1])
			md = md[i+1:]
			continue
		}
		ref := md[i : i+n]
		if c := html.UnescapeString(ref); sanitize(c) != c {
			ref = sanitize(c)
		}
		b.WriteString(md[:i])
		b.WriteString(ref)
		md = md[i+n:]
	}
	b.WriteString(md)
	return b.String()
}

// refLen is the length of the character reference s starts with
// ("&#27;", "&#x202E;", "&rlm;"), or 0.
func refLen(s string) int {
	j, digit := 1, isAlnum
	switch {
	case strings.HasPrefix(s, "&#x"), strings.HasPrefix(s, "&#X"):
		j, digit = 3, isHex
	case strings.HasPrefix(s, "&#"):
		j, digit = 2, isDigit
	}
	k := j
	for k < len(s) && k-j < 32 && digit(s[k]) {
		k++
	}
	if k == j || k == len(s) || s[k] != ';' {
		return 0
	}
	return k + 1
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'f' }
func isAlnum(c byte) bool { return isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'z' }

// docKey names one rendered document: attempt seq (0 for the ticket body)
// of a ticket at a width.
type docKey struct {
	ticket string
	seq    int
	width  int
}

// docCache holds finished renders; deliverables never change once
// accepted, so an entry is never stale.
type docCache struct {
	r       *mdRenderer
	done    map[docKey][]string
	pending map[docKey]bool
	version int // bumped per finished render, for the content cache
}

func newDocCache() *docCache {
	return &docCache{r: newMDRenderer(), done: map[docKey][]string{}, pending: map[docKey]bool{}}
}

// docRenderedMsg delivers a render made in a command.
type docRenderedMsg struct {
	key   docKey
	lines []string
}

// renderCmd renders md off the UI loop.
func (c *docCache) renderCmd(k docKey, md string) tea.Cmd {
	r := c.r
	return func() tea.Msg {
		out, err := r.render(md, k.width)
		if err != nil {
			out = "(markdown render failed: " + err.Error() + ")\n\n" + md
		}
		return docRenderedMsg{key: k, lines: strings.Split(out, "\n")}
	}
}
