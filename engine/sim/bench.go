package sim

import (
	"fmt"
	"strings"
)

// bench answers hotfix tickets titled "bench: ...", which benchmarks create
// in bulk: each writes a failing test and the code that makes it pass, in
// files of its own (bench/<id>_test.go, bench/<id>.go), so any number of
// them can run and merge side by side.
func (c *convo) bench() Turn {
	ident := benchIdent(c.id)
	switch c.phase {
	case "diagnosis":
		return Turn{Text: fmt.Sprintf("## Symptom\n\n%s\n\n## Reproduction\n\nCall `fixed%s()`: it does not exist yet.\n\n"+
			"## Root cause\n\nThe function was never written.\n\n## Fix approach\n\nAdd `fixed%s` in `bench/%s.go` "+
			"returning the ticket id.\n\n## Regression test\n\n`bench/%s_test.go`, `Test%s`: asserts `fixed%s()` "+
			"returns %q. It fails now and passes after the fix.\n", c.title, ident, ident, c.fileID(), c.fileID(), ident, ident, c.id)}
	case "tests":
		src := fmt.Sprintf("package bench\n\nimport \"testing\"\n\n// Test%[1]s is the regression test of bench ticket %[2]s.\n"+
			"func Test%[1]s(t *testing.T) {\n\tif got := fixed%[1]s(); got != %[2]q {\n\t\tt.Fatalf(\"fixed%[1]s() = %%q, want %%q\", got, %[2]q)\n\t}\n}\n",
			ident, c.id)
		return c.play(
			say("Writing the regression test.\n", writeFile("bench/"+c.fileID()+"_test.go", src)),
			say(fmt.Sprintf("Wrote `bench/%s_test.go` with `Test%s`; it fails until `fixed%s` exists.", c.fileID(), ident, ident)),
		)
	case "code":
		src := fmt.Sprintf("package bench\n\n// fixed%[1]s is the fix of bench ticket %[2]s.\nfunc fixed%[1]s() string { return %[2]q }\n", ident, c.id)
		return c.play(
			say("Writing the fix.\n", writeFile("bench/"+c.fileID()+".go", src)),
			say(fmt.Sprintf("Wrote `bench/%s.go` with `fixed%s`; the regression test passes.", c.fileID(), ident)),
		)
	}
	return c.generic()
}

// fileID is the ticket id as a file name.
func (c *convo) fileID() string {
	var b strings.Builder
	for _, r := range c.id {
		if r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "ticket"
	}
	return b.String()
}

// benchIdent turns "T-12" into "T12", a Go identifier part.
func benchIdent(id string) string {
	var b strings.Builder
	for _, r := range id {
		if r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "X"
	}
	return b.String()
}

// placeholder answers the file phases of a ticket without a script (one
// made in the demo's form): it cannot write the real change, and says so,
// but writes a failing test and the code that passes it
// (placeholders/<id>_test.go, placeholders/<id>.go), so the ticket goes
// through every phase as a scripted one does.
func (c *convo) placeholder() Turn {
	ident := benchIdent(c.id)
	note := "This simulated model has scripts only for the demo project's own tickets, so it cannot make the change \"" +
		c.title + "\". To show the rest of the flow it adds a placeholder instead: "
	switch c.phase {
	case "tests":
		src := fmt.Sprintf("package placeholders\n\nimport \"testing\"\n\n// Test%[1]s stands for the tests of ticket %[2]s,\n"+
			"// which the simulated model cannot write.\nfunc Test%[1]s(t *testing.T) {\n\tif got := placeholder%[1]s(); got != %[2]q {\n"+
			"\t\tt.Fatalf(\"placeholder%[1]s() = %%q, want %%q\", got, %[2]q)\n\t}\n}\n", ident, c.id)
		return c.play(
			say("Writing a placeholder test.\n", writeFile("placeholders/"+c.fileID()+"_test.go", src)),
			say(note+fmt.Sprintf("`placeholders/%s_test.go` with `Test%s`, which fails until `placeholder%s` exists.", c.fileID(), ident, ident)),
		)
	case "code":
		src := fmt.Sprintf("package placeholders\n\n// placeholder%[1]s stands for the change of ticket %[2]s,\n"+
			"// which the simulated model cannot write.\nfunc placeholder%[1]s() string { return %[2]q }\n", ident, c.id)
		return c.play(
			say("Writing the placeholder code.\n", writeFile("placeholders/"+c.fileID()+".go", src)),
			say(note+fmt.Sprintf("`placeholders/%s.go` with `placeholder%s`, which makes its test pass.", c.fileID(), ident)),
		)
	}
	return c.generic()
}
