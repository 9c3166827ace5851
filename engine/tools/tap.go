package tools

import (
	"context"
	"fmt"
	"unicode/utf8"
)

type tapKey struct{}

// WithOutputTap makes the commands run with ctx also hand their output to
// tap as it comes (a live view of a long CI run); what a run returns is
// unchanged. tap gets whole characters only, and at most tapLimit bytes.
func WithOutputTap(ctx context.Context, tap func(string)) context.Context {
	return context.WithValue(ctx, tapKey{}, tap)
}

// tapLimit bounds what a tap is handed: a run that prints megabytes
// shows its end when it ends, not all of it on the way.
const tapLimit = 1 << 20

// outputTap is a tap as the output's reader feeds it.
type outputTap struct {
	tap     func(string)
	partial []byte // the start of a character the next write ends
	sent    int
}

func tapFrom(ctx context.Context) *outputTap {
	tap, _ := ctx.Value(tapKey{}).(func(string))
	if tap == nil {
		return nil
	}
	return &outputTap{tap: tap}
}

func (o *outputTap) write(p []byte) {
	if o.sent >= tapLimit {
		return
	}
	b := append(o.partial, p...)
	// hold back a character cut at the end of this piece
	end := len(b)
	for i := 1; i <= utf8.UTFMax && i <= len(b); i++ {
		if c := b[len(b)-i]; utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				end = len(b) - i
			}
			break
		}
	}
	o.partial = append([]byte(nil), b[end:]...)
	if end == 0 {
		return
	}
	o.sent += end
	text := string(b[:end])
	if o.sent >= tapLimit {
		text += fmt.Sprintf("\n[more output than the %d bytes shown live: its end is shown when the run ends]\n", tapLimit)
	}
	o.tap(text)
}
