package ui

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// Appending in random chunks gives the same lines as splitting the whole.
func TestStreamIncrementalSplit(t *testing.T) {
	var whole strings.Builder
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		whole.WriteString(strings.Repeat("word ", r.IntN(30)))
		if i%7 == 0 {
			whole.WriteString("\t\x1b[31m\r")
		}
		whole.WriteString("\n")
	}
	text := whole.String()
	s := &streamBuf{}
	for rest := text; rest != ""; {
		n := min(1+r.IntN(60), len(rest))
		s.Append(rest[:n])
		rest = rest[n:]
	}
	want := strings.Split(strings.TrimSuffix(sanitize(text), "\n"), "\n")
	if s.Len() != len(want) {
		t.Fatalf("%d lines, want %d", s.Len(), len(want))
	}
	for i := range want {
		if s.line(i) != want[i] {
			t.Fatalf("line %d = %q, want %q", i, s.line(i), want[i])
		}
	}
	if strings.ContainsAny(s.line(0), "\x1b\r\t") {
		t.Fatal("control characters reached the screen")
	}
}

// The wrap cache renders byte-identically to a fresh wrap, at every width
// and after the width changes.
func TestStreamWrapCacheMatchesFresh(t *testing.T) {
	text := strings.Repeat("a fairly long line of streamed model output that needs wrapping at narrow widths\nshort\n", 50)
	cached := newStreamBuf(text)
	for _, w := range []int{20, 33, 80, 20} {
		for _, follow := range []bool{true, false} {
			for pass := range 2 { // second pass reads the cache
				got, _ := cached.window(3, w, 15, follow)
				want, _ := newStreamBuf(text).window(3, w, 15, follow)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("w=%d follow=%v pass %d: cached\n%s\nfresh\n%s", w, follow, pass, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
		}
	}
	// and the rows are the real wrap of the text
	var all []string
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		all = append(all, wrapRows(l, 20)...)
	}
	if got, _ := newStreamBuf(text).window(0, 20, len(all), false); strings.Join(got, "\n") != strings.Join(all, "\n") {
		t.Fatal("window differs from wrapping the whole text")
	}
}

// A cached markdown render equals a fresh render with a new renderer.
func TestDocCacheMatchesFreshRender(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	m = press(t, m, "2")
	l := m.layout()
	items := docItems(m.q.selected(), m.data["T-1"], l.contentW)
	if len(items) < 4 {
		t.Fatalf("only %d documents", len(items))
	}
	for _, it := range items {
		cached, ok := m.docs.done[it.key]
		if !ok {
			t.Fatalf("%s not rendered", it.title)
		}
		fresh, err := newMDRenderer().render(it.md, it.key.width)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(cached, "\n") != fresh {
			t.Fatalf("%s: cached render differs from a fresh one", it.title)
		}
	}
}

// A frame drawn from warm caches equals one drawn after dropping them.
func TestFrameFromCachesMatchesFresh(t *testing.T) {
	for _, tab := range []string{"1", "2", "3", "5"} {
		m := newTestModel(t, fixture(), 120, 36)
		m = press(t, m, tab)
		warm := m.View().Content
		if again := m.View().Content; again != warm {
			t.Fatalf("tab %s: two views differ", tab)
		}
		m.content = &contentCache{}
		for _, td := range m.data {
			for seq, s := range td.streams {
				td.streams[seq] = newStreamBuf(strings.Join(s.lines, "\n") + "\n" + s.part.String())
			}
		}
		if cold := m.View().Content; cold != warm {
			t.Fatalf("tab %s: frame from caches differs from a fresh one:\n%s\n----\n%s", tab, stripANSI(warm), stripANSI(cold))
		}
	}
}
