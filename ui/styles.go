package ui

import (
	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
)

// styles holds every lipgloss style of the UI, so a theme is one place.
type styles struct {
	border, borderFocus lipgloss.Style
	title, titleFocus   lipgloss.Style
	dim, bold           lipgloss.Style

	selected    lipgloss.Style // the selected queue row
	awaiting    lipgloss.Style // waits for approval
	needsHuman  lipgloss.Style // loop gave up
	running     lipgloss.Style
	done        lipgloss.Style
	failed      lipgloss.Style
	paused      lipgloss.Style
	tab, tabOn  lipgloss.Style
	header      lipgloss.Style // the stream / ticket header line
	toolCall    lipgloss.Style // "→ tool args" lines in a stream
	toolResult  lipgloss.Style // "← result" lines
	diffAdd     lipgloss.Style
	diffDel     lipgloss.Style
	diffHunk    lipgloss.Style
	diffFile    lipgloss.Style
	pass, fail  lipgloss.Style
	statusBar   lipgloss.Style
	flashErr    lipgloss.Style
	flashInfo   lipgloss.Style
	cooling     lipgloss.Style
	dialog      lipgloss.Style
	dialogTitle lipgloss.Style
	fieldOn     lipgloss.Style
	help        help.Styles
}

func newStyles() styles {
	var (
		accent = lipgloss.Color("12")
		muted  = lipgloss.Color("8")
		green  = lipgloss.Color("2")
		red    = lipgloss.Color("1")
		yellow = lipgloss.Color("3")
		cyan   = lipgloss.Color("6")
		magent = lipgloss.Color("5")
	)
	return styles{
		border:      lipgloss.NewStyle().Foreground(muted),
		borderFocus: lipgloss.NewStyle().Foreground(accent),
		title:       lipgloss.NewStyle(), // the focused pane's is bold and bright
		titleFocus:  lipgloss.NewStyle().Bold(true).Foreground(accent),
		dim:         lipgloss.NewStyle().Foreground(muted),
		bold:        lipgloss.NewStyle().Bold(true),
		selected:    lipgloss.NewStyle().Reverse(true),
		awaiting:    lipgloss.NewStyle().Foreground(yellow).Bold(true),
		needsHuman:  lipgloss.NewStyle().Foreground(red).Bold(true),
		running:     lipgloss.NewStyle().Foreground(cyan),
		done:        lipgloss.NewStyle().Foreground(green),
		failed:      lipgloss.NewStyle().Foreground(red),
		paused:      lipgloss.NewStyle().Foreground(magent),
		tab:         lipgloss.NewStyle().Foreground(muted),
		tabOn:       lipgloss.NewStyle().Bold(true).Foreground(accent).Underline(true),
		header:      lipgloss.NewStyle().Bold(true),
		toolCall:    lipgloss.NewStyle().Foreground(magent),
		toolResult:  lipgloss.NewStyle().Foreground(muted),
		diffAdd:     lipgloss.NewStyle().Foreground(green),
		diffDel:     lipgloss.NewStyle().Foreground(red),
		diffHunk:    lipgloss.NewStyle().Foreground(cyan),
		diffFile:    lipgloss.NewStyle().Bold(true),
		pass:        lipgloss.NewStyle().Foreground(green),
		fail:        lipgloss.NewStyle().Foreground(red),
		statusBar:   lipgloss.NewStyle(),
		flashErr:    lipgloss.NewStyle().Foreground(red).Bold(true),
		flashInfo:   lipgloss.NewStyle().Foreground(green),
		cooling:     lipgloss.NewStyle().Foreground(yellow),
		dialog:      lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(accent).Padding(0, 1),
		dialogTitle: lipgloss.NewStyle().Bold(true).Foreground(accent),
		fieldOn:     lipgloss.NewStyle().Foreground(accent).Bold(true),
		help:        help.DefaultDarkStyles(),
	}
}
