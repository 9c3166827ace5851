package sim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"

	openai "github.com/sashabaranov/go-openai"
)

var (
	allTools      = map[string]bool{"read_file": true, "write_file": true, "edit_file": true, "list_dir": true, "search": true, "run_command": true}
	readOnlyTools = map[string]bool{"read_file": true, "list_dir": true, "search": true}
)

// conversation builds the messages of a session: the user message and
// n tool results answering the calls made so far.
func conversation(user string, tools map[string]bool, toolResults int) []openai.ChatCompletionMessage {
	msgs := []openai.ChatCompletionMessage{
		{Role: openai.ChatMessageRoleSystem, Content: "system prompt"},
		{Role: openai.ChatMessageRoleUser, Content: user},
	}
	for done := 0; done < toolResults; {
		t := Answer(msgs, tools)
		if len(t.Calls) == 0 {
			break
		}
		var tcs []openai.ToolCall
		for i, c := range t.Calls {
			args, _ := json.Marshal(c.Args)
			tcs = append(tcs, openai.ToolCall{ID: c.Name + string(rune('a'+done+i)), Type: openai.ToolTypeFunction,
				Function: openai.FunctionCall{Name: c.Name, Arguments: string(args)}})
		}
		msgs = append(msgs, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: t.Text, ToolCalls: tcs})
		for _, tc := range tcs {
			msgs = append(msgs, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleTool, ToolCallID: tc.ID, Name: tc.Function.Name, Content: "ok"})
			done++
		}
	}
	return msgs
}

func TestHeader(t *testing.T) {
	c := newConvo(conversation("Phase: validator of techspec · Ticket T-12 (epic): Split: the thing\n\n## Deliverable of phase techspec\n\nx", nil, 0), nil)
	if !c.validator || c.phase != "techspec" || c.id != "T-12" || c.kind != "epic" || c.title != "Split: the thing" {
		t.Errorf("parsed %+v", c)
	}
	c = newConvo(conversation("Phase: code · Ticket T-3 (hotfix): bench: x", nil, 0), nil)
	if c.validator || c.phase != "code" || c.id != "T-3" || c.kind != "hotfix" || c.title != "bench: x" {
		t.Errorf("parsed %+v", c)
	}
}

func TestChunksJoinBack(t *testing.T) {
	text := featureTechspec(slugify)
	cs := chunks(text)
	if strings.Join(cs, "") != text {
		t.Fatal("chunks do not join back to the text")
	}
	if len(cs) < 50 {
		t.Errorf("only %d chunks: the stream would not be visible", len(cs))
	}
}

func TestFeatureDiscoveryRejectedThenFixed(t *testing.T) {
	user := "Phase: discovery · Ticket T-1 (feature): " + FeatureTitle + "\n\n## Ticket\n\n# " + FeatureTitle + "\n\nbody"
	first := Answer(conversation(user, readOnlyTools, 2), readOnlyTools)
	if len(first.Calls) != 0 || hasHeading(first.Text, "acceptance criteria") {
		t.Fatalf("first attempt should be a deliverable without criteria:\n%s", first.Text)
	}
	v := Answer(conversation("Phase: validator of discovery · Ticket T-1 (feature): "+FeatureTitle+
		"\n\n## Deliverable of phase discovery\n\n"+first.Text+"\n\n## Source of truth: the ticket\n\nbody", nil, 0), nil)
	if !strings.Contains(v.Text, `"pass":false`) {
		t.Fatalf("validator passed a spec without criteria: %s", v.Text)
	}

	retry := user + "\n\n## Objections to address\n\nEarlier attempts...\n\n1. no criteria\n\n## Your previous deliverable (revise it)\n\n" + first.Text
	second := Answer(conversation(retry, readOnlyTools, 2), readOnlyTools)
	if !hasHeading(second.Text, "acceptance criteria") || !hasHeading(second.Text, "objections addressed") {
		t.Fatalf("retry should add the criteria and say so:\n%s", second.Text)
	}
	v = Answer(conversation("Phase: validator of discovery · Ticket T-1 (feature): "+FeatureTitle+
		"\n\n## Deliverable of phase discovery\n\n"+second.Text+"\n\n## Source of truth: the ticket\n\nbody", nil, 0), nil)
	if !strings.Contains(v.Text, `"pass":true`) {
		t.Fatalf("validator failed the revised spec: %s", v.Text)
	}
}

func TestDiagnosisNeedsAHuman(t *testing.T) {
	user := "Phase: diagnosis · Ticket T-2 (hotfix): " + HotfixTitle + "\n\n## Ticket\n\nbody"
	for _, extra := range []string{"", "\n\n## Objections to address\n\n1. unconfirmed"} {
		d := Answer(conversation(user+extra, readOnlyTools, 5), readOnlyTools)
		v := Answer(conversation("Phase: validator of diagnosis · Ticket T-2 (hotfix): "+HotfixTitle+
			"\n\n## Deliverable of phase diagnosis\n\n"+d.Text+"\n\n## Source of truth: the ticket\n\nbody", nil, 0), nil)
		if !strings.Contains(v.Text, `"pass":false`) {
			t.Errorf("validator passed an unconfirmed diagnosis (%q): %s", extra, v.Text)
		}
	}
	guided := user + "\n\n## Objections to address\n\n1. unconfirmed\n2. Guidance from a human: the title was \"Crème brûlée\"\n"
	d := Answer(conversation(guided, readOnlyTools, 5), readOnlyTools)
	v := Answer(conversation("Phase: validator of diagnosis · Ticket T-2 (hotfix): "+HotfixTitle+
		"\n\n## Deliverable of phase diagnosis\n\n"+d.Text+"\n\n## Source of truth: the ticket\n\nbody", nil, 0), nil)
	if !strings.Contains(v.Text, `"pass":true`) || !strings.Contains(d.Text, "Crème brûlée") {
		t.Errorf("guided diagnosis not accepted: %s\n%s", v.Text, d.Text)
	}
}

// The turn a session is at follows from the number of tool results.
func TestTurnsFollowToolResults(t *testing.T) {
	user := "Phase: tests · Ticket T-1 (feature): " + FeatureTitle + "\n\n## Plan\n\nplan"
	want := [][]string{{"list_dir", "read_file"}, {}, {"write_file"}, {"run_command"}, nil}
	for n, names := range want {
		if names != nil && len(names) == 0 {
			continue // mid-turn counts never happen: a turn's calls all get results
		}
		got := Answer(conversation(user, allTools, n), allTools)
		var gotNames []string
		for _, c := range got.Calls {
			gotNames = append(gotNames, c.Name)
		}
		if strings.Join(gotNames, ",") != strings.Join(names, ",") {
			t.Errorf("after %d tool results: calls %v, want %v", n, gotNames, names)
		}
	}
}

func TestNoForbiddenTools(t *testing.T) {
	for _, phase := range []string{"discovery", "techspec", "review", "diagnosis"} {
		user := "Phase: " + phase + " · Ticket T-9 (feature): " + FeatureTitle
		for n := 0; n < 4; n++ {
			for _, c := range Answer(conversation(user, readOnlyTools, n), readOnlyTools).Calls {
				if !readOnlyTools[c.Name] {
					t.Errorf("%s called %s", phase, c.Name)
				}
			}
		}
	}
	for _, phase := range []string{"planning", "split"} {
		if got := Answer(conversation("Phase: "+phase+" · Ticket T-9 (feature): anything", nil, 0), nil); len(got.Calls) > 0 || got.Text == "" {
			t.Errorf("%s without tools: %+v", phase, got)
		}
	}
}

// A ticket without a script (made in the demo's form) gets a placeholder
// test and code, said to be one, so it goes through every phase.
func TestUnknownTicket(t *testing.T) {
	for phase, path := range map[string]string{"tests": "placeholders/T-40_test.go", "code": "placeholders/T-40.go"} {
		user := "Phase: " + phase + " · Ticket T-40 (feature): Make the widget blue"
		first := Answer(conversation(user, allTools, 0), allTools)
		if len(first.Calls) != 1 || first.Calls[0].Name != "write_file" || first.Calls[0].Args["path"] != path {
			t.Fatalf("%s, first turn: %+v", phase, first)
		}
		if last := Answer(conversation(user, allTools, 1), allTools); len(last.Calls) != 0 || !strings.Contains(last.Text, "cannot make the change \"Make the widget blue\"") {
			t.Fatalf("%s, second turn: %+v", phase, last)
		}
	}
	d := Answer(conversation("Phase: discovery · Ticket T-40 (feature): Make the widget blue", readOnlyTools, 1), readOnlyTools)
	if !hasHeading(d.Text, "acceptance criteria") {
		t.Errorf("generic discovery lacks criteria:\n%s", d.Text)
	}
}

func TestBench(t *testing.T) {
	tests := Answer(conversation("Phase: tests · Ticket T-7 (hotfix): bench: anything", allTools, 0), allTools)
	if len(tests.Calls) != 1 || tests.Calls[0].Args["path"] != "bench/T-7_test.go" ||
		!strings.Contains(tests.Calls[0].Args["content"].(string), "func TestT7(") {
		t.Fatalf("bench tests: %+v", tests)
	}
	code := Answer(conversation("Phase: code · Ticket T-7 (hotfix): bench: anything", allTools, 0), allTools)
	if len(code.Calls) != 1 || code.Calls[0].Args["path"] != "bench/T-7.go" ||
		!strings.Contains(code.Calls[0].Args["content"].(string), "func fixedT7() string") {
		t.Fatalf("bench code: %+v", code)
	}
	rv := Answer(conversation("Phase: review · Ticket T-7 (hotfix): bench: anything\n\n## Diff of the branch against main\n\n```diff\n+++ b/bench/T-7.go\n```", readOnlyTools, 1), readOnlyTools)
	if !strings.Contains(rv.Text, `"pass":true`) {
		t.Errorf("bench review: %s", rv.Text)
	}
}

// The real client against the real server: streaming, tool calls, usage.
func TestServeWithClient(t *testing.T) {
	ctx := context.Background()
	base, stop, err := Serve(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if u, err := url.Parse(base); err != nil || u.Hostname() != "127.0.0.1" {
		t.Fatalf("base URL %q is not loopback", base)
	}
	cfg := openai.DefaultConfig("")
	cfg.BaseURL = base
	client := openai.NewClientWithConfig(cfg)
	var defs []openai.Tool
	for name := range allTools {
		defs = append(defs, openai.Tool{Type: openai.ToolTypeFunction, Function: &openai.FunctionDefinition{Name: name, Parameters: json.RawMessage(`{"type":"object"}`)}})
	}
	stream, err := client.CreateChatCompletionStream(ctx, openai.ChatCompletionRequest{
		Model: "sim-medium", Stream: true, StreamOptions: &openai.StreamOptions{IncludeUsage: true}, Tools: defs,
		Messages: conversation("Phase: tests · Ticket T-1 (feature): "+FeatureTitle+"\n\n## Plan\n\nplan", nil, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	var text strings.Builder
	calls := map[int]string{}
	var usage *openai.Usage
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if resp.Usage != nil {
			usage = resp.Usage
		}
		for _, ch := range resp.Choices {
			text.WriteString(ch.Delta.Content)
			for _, tc := range ch.Delta.ToolCalls {
				if tc.Index != nil {
					calls[*tc.Index] += tc.Function.Name
				}
			}
		}
	}
	if text.Len() == 0 || calls[0] != "list_dir" || calls[1] != "read_file" {
		t.Errorf("text %q, calls %v", text.String(), calls)
	}
	if usage == nil || usage.PromptTokens == 0 || usage.CompletionTokens == 0 {
		t.Errorf("usage %+v", usage)
	}
}
