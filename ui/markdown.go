package ui

import (
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
	out, err := tr.Render(sanitize(strings.ReplaceAll(md, "\r\n", "\n")))
	if err != nil {
		return "", err
	}
	return strings.Trim(out, "\n"), nil
}

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
