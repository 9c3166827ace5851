package llm

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"
	"go.uber.org/goleak"

	"agent-tui/engine/config"
	"agent-tui/engine/oaitest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// model is one test model, served by its own provider "p-<name>".
type model struct {
	name   string
	url    string
	local  bool
	keyEnv string
}

func testConfig(models ...model) *config.Config {
	cfg := &config.Config{
		StreamIdleTimeout: config.Duration{Duration: 5 * time.Second},
		RetryBackoff:      config.Duration{Duration: 10 * time.Millisecond},
	}
	for _, m := range models {
		cfg.Providers = append(cfg.Providers, config.Provider{
			Name: "p-" + m.name, BaseURL: m.url, Local: m.local, APIKeyEnv: m.keyEnv,
		})
		cfg.Models = append(cfg.Models, config.Model{
			Name: m.name, ID: m.name + "-id", Provider: "p-" + m.name,
			InputPerMTok: 1, OutputPerMTok: 2,
		})
	}
	return cfg
}

func serve(t *testing.T, fn func(*oaitest.Request) oaitest.Reply) *oaitest.Server {
	t.Helper()
	s := oaitest.New(fn)
	t.Cleanup(s.Close)
	return s
}

func reply(rep oaitest.Reply) func(*oaitest.Request) oaitest.Reply {
	return func(*oaitest.Request) oaitest.Reply { return rep }
}

var hello = []openai.ChatCompletionMessage{
	{Role: openai.ChatMessageRoleSystem, Content: "You write Go."},
	{Role: openai.ChatMessageRoleUser, Content: "Say hello."},
}

func envOf(kv ...string) func(string) string {
	return func(k string) string {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == k {
				return kv[i+1]
			}
		}
		return ""
	}
}

// recorder collects deltas; OnDelta is called from Complete's goroutine,
// but a recorder shared across goroutines would need the lock anyway.
type recorder struct {
	mu     sync.Mutex
	deltas []Delta
}

func (r *recorder) on(d Delta) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deltas = append(r.deltas, d)
}

// text joins the text streamed since the last restart.
func (r *recorder) text() string {
	var b strings.Builder
	for _, d := range r.deltas {
		if d.Restart {
			b.Reset()
		}
		b.WriteString(d.Text)
	}
	return b.String()
}

func (r *recorder) restarts() []Delta {
	var out []Delta
	for _, d := range r.deltas {
		if d.Restart {
			out = append(out, d)
		}
	}
	return out
}

func TestStreamedTextAndUsage(t *testing.T) {
	const answer = "Hello there, this answer arrives in several pieces."
	s := serve(t, reply(oaitest.Reply{Text: answer, PromptTokens: 100, CompletionTokens: 20}))
	cfg := testConfig(model{name: "mid", url: s.URL, keyEnv: "TEST_KEY"})
	r := NewRouter(cfg, Options{Getenv: envOf("TEST_KEY", "k-123")})

	var rec recorder
	resp, err := r.Complete(context.Background(), Request{Phase: config.Code, Models: []string{"mid"}, Messages: hello, OnDelta: rec.on})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != answer || rec.text() != answer {
		t.Errorf("content %q, streamed %q, want %q", resp.Content, rec.text(), answer)
	}
	if len(rec.deltas) < 3 {
		t.Errorf("got %d deltas, want the answer in several pieces", len(rec.deltas))
	}
	if resp.TokensIn != 100 || resp.TokensOut != 20 || resp.Estimated {
		t.Errorf("tokens %d/%d estimated=%v, want 100/20 from usage", resp.TokensIn, resp.TokensOut, resp.Estimated)
	}
	if want := 100.0/1e6*1 + 20.0/1e6*2; math.Abs(resp.CostUSD-want) > 1e-12 {
		t.Errorf("cost %v, want %v", resp.CostUSD, want)
	}
	if resp.Model != "mid" || resp.Provider != "p-mid" || resp.FinishReason != "stop" || len(resp.Fallbacks) != 0 {
		t.Errorf("got model %q provider %q finish %q fallbacks %v", resp.Model, resp.Provider, resp.FinishReason, resp.Fallbacks)
	}

	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("server got %d requests, want 1", len(reqs))
	}
	got := reqs[0]
	if !got.Stream || !got.IncludeUsage {
		t.Errorf("stream=%v include_usage=%v, want both", got.Stream, got.IncludeUsage)
	}
	if got.Model != "mid-id" {
		t.Errorf("model id sent %q, want mid-id", got.Model)
	}
	if auth := got.Header.Get("Authorization"); auth != "Bearer k-123" {
		t.Errorf("Authorization %q", auth)
	}
	if strings.Contains(string(got.Raw), "temperature") {
		t.Errorf("temperature was sent: %s", got.Raw)
	}
	if len(got.Messages) != 2 || got.Messages[1].Content != "Say hello." {
		t.Errorf("messages sent: %+v", got.Messages)
	}
}

func TestToolCallsAssembled(t *testing.T) {
	calls := []oaitest.ToolCall{
		{ID: "call_a", Name: "read_file", Args: `{"path":"main.go","offset":10}`},
		{ID: "call_b", Name: "search", Args: `{"pattern":"func main"}`},
	}
	shapes := []struct {
		name string
		rep  oaitest.Reply
	}{
		{"with index", oaitest.Reply{}},
		{"without index", oaitest.Reply{OmitIndex: true}},
		{"every call at index 0", oaitest.Reply{IndexZero: true}},
		{"whole calls without index or id", oaitest.Reply{WholeCall: true}},
	}
	for _, shape := range shapes {
		t.Run(shape.name, func(t *testing.T) {
			rep := shape.rep
			rep.Text, rep.ToolCalls = "Looking.", calls
			s := serve(t, reply(rep))
			r := NewRouter(testConfig(model{name: "m", url: s.URL}), Options{})
			var rec recorder
			tools := []openai.Tool{{Type: openai.ToolTypeFunction, Function: &openai.FunctionDefinition{Name: "read_file"}}}
			resp, err := r.Complete(context.Background(), Request{Models: []string{"m"}, Messages: hello, Tools: tools, OnDelta: rec.on})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.ToolCalls) != len(calls) {
				t.Fatalf("got %d tool calls %+v, want %d", len(resp.ToolCalls), resp.ToolCalls, len(calls))
			}
			for i, want := range calls {
				got := resp.ToolCalls[i]
				if (got.ID != want.ID && !shape.rep.WholeCall) || got.Function.Name != want.Name || got.Function.Arguments != want.Args ||
					got.Type != openai.ToolTypeFunction {
					t.Errorf("call %d = %+v, want %+v", i, got, want)
				}
			}
			if resp.FinishReason != "tool_calls" || resp.Content != "Looking." {
				t.Errorf("finish %q content %q", resp.FinishReason, resp.Content)
			}
			var started []string
			for _, d := range rec.deltas {
				if d.ToolCall != "" {
					started = append(started, d.ToolCall)
				}
			}
			if strings.Join(started, ",") != "read_file,search" {
				t.Errorf("tool call deltas %v", started)
			}
			if reqs := s.Requests(); len(reqs[0].Tools) != 1 || reqs[0].Tools[0].Function.Name != "read_file" {
				t.Errorf("tools not sent: %+v", reqs[0].Tools)
			}
		})
	}
}

func TestFallbackOn500(t *testing.T) {
	bad := serve(t, reply(oaitest.Reply{Status: 500}))
	good := serve(t, reply(oaitest.Reply{Text: "from the backup"}))
	r := NewRouter(testConfig(model{name: "a", url: bad.URL}, model{name: "b", url: good.URL}), Options{})

	resp, err := r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != "b" || resp.Content != "from the backup" {
		t.Errorf("served by %q: %q", resp.Model, resp.Content)
	}
	want := []Fallback{{Model: "a", Provider: "p-a", Reason: "HTTP 500"}}
	if len(resp.Fallbacks) != 1 || resp.Fallbacks[0] != want[0] {
		t.Errorf("fallbacks %+v, want %+v", resp.Fallbacks, want)
	}
	if n := len(bad.Requests()); n != 1 {
		t.Errorf("a 500 was retried: %d requests", n)
	}
}

func TestClientErrorFallsBackWithMessage(t *testing.T) {
	bad := serve(t, reply(oaitest.Reply{Status: 404, Error: "The model `a-id` does not exist"}))
	good := serve(t, reply(oaitest.Reply{Text: "ok"}))
	r := NewRouter(testConfig(model{name: "a", url: bad.URL}, model{name: "b", url: good.URL}), Options{})
	resp, err := r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Fallbacks) != 1 || resp.Fallbacks[0].Reason != "HTTP 404: The model `a-id` does not exist" {
		t.Errorf("fallbacks %+v", resp.Fallbacks)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	var mu sync.Mutex
	var times []time.Time
	s := serve(t, func(*oaitest.Request) oaitest.Reply {
		mu.Lock()
		defer mu.Unlock()
		times = append(times, time.Now())
		if len(times) == 1 {
			return oaitest.Reply{Status: http.StatusTooManyRequests, RetryAfter: "1"}
		}
		return oaitest.Reply{Text: "after the wait"}
	})
	fallback := serve(t, reply(oaitest.Reply{Text: "wrong"}))
	r := NewRouter(testConfig(model{name: "a", url: s.URL}, model{name: "b", url: fallback.URL}), Options{})

	start := time.Now()
	resp, err := r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != "a" || resp.Content != "after the wait" || len(resp.Fallbacks) != 0 {
		t.Errorf("served by %q: %q, fallbacks %v", resp.Model, resp.Content, resp.Fallbacks)
	}
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Errorf("retried after %v, want Retry-After's 1s", el)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(times) != 2 || times[1].Sub(times[0]) < 900*time.Millisecond {
		t.Errorf("requests at %v", times)
	}
	if n := len(fallback.Requests()); n != 0 {
		t.Errorf("fallback got %d requests", n)
	}
}

func TestRateLimitExhaustedFallsBack(t *testing.T) {
	limited := serve(t, reply(oaitest.Reply{Status: http.StatusTooManyRequests}))
	good := serve(t, reply(oaitest.Reply{Text: "ok"}))
	cfg := testConfig(model{name: "a", url: limited.URL}, model{name: "b", url: good.URL})
	cfg.Retries = 2
	r := NewRouter(cfg, Options{})

	resp, err := r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(limited.Requests()); n != 3 {
		t.Errorf("rate-limited model got %d requests, want 1 + 2 retries", n)
	}
	if resp.Model != "b" || len(resp.Fallbacks) != 1 || !strings.Contains(resp.Fallbacks[0].Reason, "HTTP 429") {
		t.Errorf("served by %q, fallbacks %+v", resp.Model, resp.Fallbacks)
	}
}

func TestResetMidStreamRestarts(t *testing.T) {
	broken := serve(t, reply(oaitest.Reply{Text: "one two three four five six seven eight nine ten", ResetAfterChunks: 2}))
	good := serve(t, reply(oaitest.Reply{Text: "the whole answer"}))
	r := NewRouter(testConfig(model{name: "a", url: broken.URL}, model{name: "b", url: good.URL}), Options{})

	var rec recorder
	resp, err := r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello, OnDelta: rec.on})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != "b" || len(resp.Fallbacks) != 1 || resp.Fallbacks[0].Reason != "connection reset mid-stream" {
		t.Fatalf("served by %q, fallbacks %+v", resp.Model, resp.Fallbacks)
	}
	restarts := rec.restarts()
	if len(restarts) != 1 || restarts[0].Reason != "connection reset mid-stream" {
		t.Errorf("restarts %+v", restarts)
	}
	if rec.deltas[0].Restart || rec.deltas[0].Text == "" {
		t.Errorf("first delta %+v, want text from the broken stream before the restart", rec.deltas[0])
	}
	if rec.text() != "the whole answer" {
		t.Errorf("text after restart %q", rec.text())
	}
}

func TestIdleWatchdog(t *testing.T) {
	stalled := serve(t, reply(oaitest.Reply{Text: "one two three four five", StallAfterChunks: 1}))
	good := serve(t, reply(oaitest.Reply{Text: "ok"}))
	cfg := testConfig(model{name: "a", url: stalled.URL}, model{name: "b", url: good.URL})
	cfg.StreamIdleTimeout.Duration = 200 * time.Millisecond
	r := NewRouter(cfg, Options{})

	start := time.Now()
	resp, err := r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("took %v", el)
	}
	if resp.Model != "b" || len(resp.Fallbacks) != 1 || resp.Fallbacks[0].Reason != "stream idle for 200ms" {
		t.Errorf("served by %q, fallbacks %+v", resp.Model, resp.Fallbacks)
	}
}

func TestIdleWatchdogBeforeHeaders(t *testing.T) {
	slow := serve(t, reply(oaitest.Reply{Text: "late", Delay: 10 * time.Second}))
	good := serve(t, reply(oaitest.Reply{Text: "ok"}))
	cfg := testConfig(model{name: "a", url: slow.URL}, model{name: "b", url: good.URL})
	cfg.StreamIdleTimeout.Duration = 200 * time.Millisecond
	r := NewRouter(cfg, Options{})
	resp, err := r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != "b" || !strings.HasPrefix(resp.Fallbacks[0].Reason, "no response within 200ms (a server that answers one request at a time") {
		t.Errorf("served by %q, fallbacks %+v", resp.Model, resp.Fallbacks)
	}
}

func TestSlowConsumerIsNotIdle(t *testing.T) {
	// The server is never idle for 150ms, but the consumer takes 250ms
	// over the first piece while the next ones are on their way.
	s := serve(t, reply(oaitest.Reply{Text: "one two three", ChunkDelay: 80 * time.Millisecond}))
	cfg := testConfig(model{name: "a", url: s.URL})
	cfg.StreamIdleTimeout.Duration = 150 * time.Millisecond
	r := NewRouter(cfg, Options{})
	first := true
	slow := func(Delta) {
		if first {
			first = false
			time.Sleep(250 * time.Millisecond)
		}
	}
	resp, err := r.Complete(context.Background(), Request{Models: []string{"a"}, Messages: hello, OnDelta: slow})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "one two three" {
		t.Errorf("content %q", resp.Content)
	}
}

func TestRequestTimeout(t *testing.T) {
	// Chunks keep arriving, so only the whole-request bound can end it.
	slow := serve(t, reply(oaitest.Reply{Chunks: strings.Split(strings.Repeat("x", 40), ""), ChunkDelay: 50 * time.Millisecond}))
	good := serve(t, reply(oaitest.Reply{Text: "ok"}))
	cfg := testConfig(model{name: "a", url: slow.URL}, model{name: "b", url: good.URL})
	cfg.RequestTimeout.Duration = 300 * time.Millisecond
	r := NewRouter(cfg, Options{})
	resp, err := r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != "b" || resp.Fallbacks[0].Reason != "request timed out after 300ms" {
		t.Errorf("served by %q, fallbacks %+v", resp.Model, resp.Fallbacks)
	}
}

func TestMalformedStreamFallsBack(t *testing.T) {
	bad := serve(t, reply(oaitest.Reply{Text: "a b c d e", MalformedSSE: true}))
	good := serve(t, reply(oaitest.Reply{Text: "ok"}))
	r := NewRouter(testConfig(model{name: "a", url: bad.URL}, model{name: "b", url: good.URL}), Options{})
	resp, err := r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != "b" || resp.Fallbacks[0].Reason != "malformed stream" {
		t.Errorf("served by %q, fallbacks %+v", resp.Model, resp.Fallbacks)
	}
}

func TestConnectionRefusedFallsBack(t *testing.T) {
	gone := oaitest.New(reply(oaitest.Reply{}))
	gone.Close()
	good := serve(t, reply(oaitest.Reply{Text: "ok"}))
	r := NewRouter(testConfig(model{name: "a", url: gone.URL}, model{name: "b", url: good.URL}), Options{})
	resp, err := r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != "b" || !strings.HasPrefix(resp.Fallbacks[0].Reason, "connection failed: ") {
		t.Errorf("served by %q, fallbacks %+v", resp.Model, resp.Fallbacks)
	}
}

func TestAllFailed(t *testing.T) {
	a := serve(t, reply(oaitest.Reply{Status: 500}))
	b := serve(t, reply(oaitest.Reply{Status: 503}))
	r := NewRouter(testConfig(model{name: "a", url: a.URL}, model{name: "b", url: b.URL}), Options{})
	_, err := r.Complete(context.Background(), Request{Models: []string{"a", "b", "ghost"}, Messages: hello})
	var all *AllFailedError
	if !errors.As(err, &all) {
		t.Fatalf("err %v, want AllFailedError", err)
	}
	// b has no model after it that can answer: it is retried first
	want := []Fallback{{"a", "p-a", "HTTP 500"}, {"b", "p-b", "HTTP 503 after 2 retries"}, {"ghost", "", "model not in config"}}
	if len(all.Tried) != len(want) {
		t.Fatalf("tried %+v", all.Tried)
	}
	for i := range want {
		if all.Tried[i] != want[i] {
			t.Errorf("tried[%d] = %+v, want %+v", i, all.Tried[i], want[i])
		}
	}
	if msg := err.Error(); !strings.Contains(msg, "a (p-a): HTTP 500") || !strings.Contains(msg, "b (p-b): HTTP 503") {
		t.Errorf("error %q does not name each model", msg)
	}
}

func TestSensitiveWithoutLocalModelSendsNothing(t *testing.T) {
	s := serve(t, reply(oaitest.Reply{Text: "should never be asked"}))
	r := NewRouter(testConfig(model{name: "a", url: s.URL}, model{name: "b", url: s.URL}), Options{})
	_, err := r.Complete(context.Background(), Request{Phase: config.Code, Models: []string{"a", "b"}, Sensitive: true, Messages: hello})
	var nl *NoLocalModelError
	if !errors.As(err, &nl) || nl.Phase != config.Code {
		t.Fatalf("err %v, want NoLocalModelError for code", err)
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("server got %d requests", n)
	}
}

func TestSensitiveUsesOnlyLocal(t *testing.T) {
	remote := serve(t, reply(oaitest.Reply{Text: "remote"}))
	local := serve(t, reply(oaitest.Reply{Text: "local"}))
	cfg := testConfig(model{name: "remote", url: remote.URL}, model{name: "local", url: local.URL, local: true})
	r := NewRouter(cfg, Options{})
	resp, err := r.Complete(context.Background(), Request{Models: []string{"remote", "local"}, Sensitive: true, Messages: hello})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != "local" || resp.Content != "local" {
		t.Errorf("served by %q", resp.Model)
	}
	if n := len(remote.Requests()); n != 0 {
		t.Errorf("remote got %d requests", n)
	}
}

func TestSensitiveLocalFailureDoesNotLeak(t *testing.T) {
	remote := serve(t, reply(oaitest.Reply{Text: "remote"}))
	local := serve(t, reply(oaitest.Reply{Status: 500}))
	cfg := testConfig(model{name: "local", url: local.URL, local: true}, model{name: "remote", url: remote.URL})
	r := NewRouter(cfg, Options{})
	_, err := r.Complete(context.Background(), Request{Models: []string{"local", "remote"}, Sensitive: true, Messages: hello})
	var all *AllFailedError
	if !errors.As(err, &all) {
		t.Fatalf("err %v", err)
	}
	if n := len(remote.Requests()); n != 0 {
		t.Errorf("remote got %d requests after the local model failed", n)
	}
}

func TestNoUsageIsEstimated(t *testing.T) {
	const answer = "An answer without any usage numbers."
	s := serve(t, reply(oaitest.Reply{Text: answer, NoUsage: true}))
	r := NewRouter(testConfig(model{name: "a", url: s.URL}), Options{})
	resp, err := r.Complete(context.Background(), Request{Models: []string{"a"}, Messages: hello})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Estimated || resp.TokensIn != EstimateMessages(hello) || resp.TokensOut != EstimateTokens(answer) {
		t.Errorf("estimated=%v tokens %d/%d", resp.Estimated, resp.TokensIn, resp.TokensOut)
	}
	if resp.TokensIn == 0 || resp.TokensOut == 0 || resp.CostUSD == 0 {
		t.Errorf("tokens %d/%d cost %v", resp.TokensIn, resp.TokensOut, resp.CostUSD)
	}
	// the tool definitions sent with the call are billed as input too
	defs := []openai.Tool{{Type: openai.ToolTypeFunction, Function: &openai.FunctionDefinition{Name: "read_file", Description: strings.Repeat("reads a file of the worktree ", 40)}}}
	resp, err = r.Complete(context.Background(), Request{Models: []string{"a"}, Messages: hello, Tools: defs})
	if err != nil {
		t.Fatal(err)
	}
	if want := EstimateMessages(hello) + EstimateTools(defs); resp.TokensIn != want || EstimateTools(defs) < 200 {
		t.Errorf("with tools: tokens in %d, want %d", resp.TokensIn, want)
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestCooldown(t *testing.T) {
	bad := serve(t, reply(oaitest.Reply{Status: 500}))
	good := serve(t, reply(oaitest.Reply{Text: "ok"}))
	cfg := testConfig(model{name: "a", url: bad.URL}, model{name: "b", url: good.URL})
	cfg.ProviderCooldown.Duration = time.Minute
	clk := &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	r := NewRouter(cfg, Options{Now: clk.now})
	ask := func(models ...string) (*Response, error) {
		return r.Complete(context.Background(), Request{Models: models, Messages: hello})
	}

	for range 3 {
		if _, err := ask("a", "b"); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(bad.Requests()); n != 3 {
		t.Fatalf("a got %d requests before cooling", n)
	}
	h := r.Health()
	if h[0].Name != "p-a" || h[0].Failures != 3 || !h[0].CoolingUntil.Equal(clk.now().Add(time.Minute)) || h[0].LastError != "HTTP 500" {
		t.Errorf("health %+v", h[0])
	}
	if h[1].Failures != 0 || !h[1].CoolingUntil.IsZero() {
		t.Errorf("health %+v", h[1])
	}

	resp, err := ask("a", "b")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(bad.Requests()); n != 3 {
		t.Errorf("cooling provider was asked: %d requests", n)
	}
	if resp.Fallbacks[0].Reason != "provider cooling down" {
		t.Errorf("fallbacks %+v", resp.Fallbacks)
	}

	// When the cooling provider is all that is left it is tried anyway,
	// with its retries.
	if _, err := ask("a"); err == nil {
		t.Error("a alone succeeded")
	}
	if n := len(bad.Requests()); n != 6 {
		t.Errorf("last candidate not tried with its retries: %d requests", n)
	}

	clk.advance(time.Minute + time.Second)
	if h := r.Health(); !h[0].CoolingUntil.IsZero() {
		t.Errorf("still cooling after the cooldown: %+v", h[0])
	}
	if _, err := ask("a", "b"); err != nil {
		t.Fatal(err)
	}
	if n := len(bad.Requests()); n != 7 {
		t.Errorf("a not tried again after the cooldown: %d requests", n)
	}
}

func TestSuccessEndsCooldown(t *testing.T) {
	var n int
	s := serve(t, func(*oaitest.Request) oaitest.Reply {
		n++
		if n <= 9 { // three calls, each with its two retries
			return oaitest.Reply{Status: 502}
		}
		return oaitest.Reply{Text: "ok"}
	})
	r := NewRouter(testConfig(model{name: "a", url: s.URL}), Options{})
	var recoveries atomic.Int32
	r.OnRecovery(func() { recoveries.Add(1) })
	for range 3 {
		_, _ = r.Complete(context.Background(), Request{Models: []string{"a"}, Messages: hello})
	}
	if h := r.Health()[0]; h.CoolingUntil.IsZero() {
		t.Fatalf("not cooling after 3 failures: %+v", h)
	}
	// The only candidate is tried although cooling, and its success counts.
	if _, err := r.Complete(context.Background(), Request{Models: []string{"a"}, Messages: hello}); err != nil {
		t.Fatal(err)
	}
	if h := r.Health()[0]; h.Failures != 0 || !h.CoolingUntil.IsZero() {
		t.Errorf("health %+v after a success", h)
	}
	// the recovery is told at once (the status line said cooling until
	// its next poll), and only the recovery
	if _, err := r.Complete(context.Background(), Request{Models: []string{"a"}, Messages: hello}); err != nil {
		t.Fatal(err)
	}
	if n := recoveries.Load(); n != 1 {
		t.Errorf("recoveries told: %d, want 1", n)
	}
}

func TestWatchdogRestartsOnEveryChunk(t *testing.T) {
	// 8 chunks 80ms apart take longer than the idle timeout in total.
	s := serve(t, reply(oaitest.Reply{Chunks: strings.Split("abcdefgh", ""), ChunkDelay: 80 * time.Millisecond}))
	cfg := testConfig(model{name: "a", url: s.URL})
	cfg.StreamIdleTimeout.Duration = 250 * time.Millisecond
	r := NewRouter(cfg, Options{})
	resp, err := r.Complete(context.Background(), Request{Models: []string{"a"}, Messages: hello})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "abcdefgh" {
		t.Errorf("content %q", resp.Content)
	}
}

func TestKeyNeverInErrors(t *testing.T) {
	const key = "sk-very-secret-0xC0FFEE-4242"
	echo := func(r *oaitest.Request) oaitest.Reply {
		// Like providers that quote the rejected key back.
		return oaitest.Reply{Status: 401, Error: "Incorrect API key provided: " + r.Header.Get("Authorization")}
	}
	a := serve(t, echo)
	b := serve(t, func(r *oaitest.Request) oaitest.Reply {
		return oaitest.Reply{Status: 500, Error: "upstream said " + key}
	})
	cfg := testConfig(model{name: "a", url: a.URL, keyEnv: "K"}, model{name: "b", url: b.URL, keyEnv: "K"})
	r := NewRouter(cfg, Options{Getenv: envOf("K", key)})
	_, err := r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello})
	var all *AllFailedError
	if !errors.As(err, &all) {
		t.Fatalf("err %v", err)
	}
	if got := a.Requests()[0].Header.Get("Authorization"); got != "Bearer "+key {
		t.Fatalf("key not sent (%q): the test would prove nothing", got)
	}
	if strings.Contains(err.Error(), key) {
		t.Errorf("key in error: %s", err)
	}
	for _, f := range all.Tried {
		if strings.Contains(f.Reason, key) {
			t.Errorf("key in reason: %s", f.Reason)
		}
	}
	if !strings.Contains(all.Tried[0].Reason, "HTTP 401: Incorrect API key provided: Bearer ***") {
		t.Errorf("reason %q", all.Tried[0].Reason)
	}
	for _, h := range r.Health() {
		if strings.Contains(h.LastError, key) || strings.Contains(h.KeyRefused, key) {
			t.Errorf("key in health: %s %s", h.LastError, h.KeyRefused)
		}
	}

	// a provider that refused its key is not called again: the key cannot
	// change while this process runs
	_, err = r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello})
	if n := len(a.Requests()); n != 1 {
		t.Errorf("the refusing provider was called %d times", n)
	}
	if !errors.As(err, &all) || !strings.HasPrefix(all.Tried[0].Reason, "provider p-a: it refused the key in K (HTTP 401: ") {
		t.Errorf("second call: %v", err)
	}
	if got := r.KeyRefused("p-a"); !strings.Contains(got, "it refused the key in K") || r.KeyRefused("p-b") != "" {
		t.Errorf("KeyRefused: %q %q", got, r.KeyRefused("p-b"))
	}
}

// A 401 stops the chain's other models on the same provider too: the key
// is the provider's, not the model's (tester: medium refused, then large
// asked on the same provider within the same call).
func TestKeyRefusedSkipsTheProvidersOtherModels(t *testing.T) {
	s := serve(t, reply(oaitest.Reply{Status: 401, Error: "bad key"}))
	other := serve(t, reply(oaitest.Reply{Text: "ok"}))
	cfg := testConfig(model{name: "medium", url: s.URL, keyEnv: "K"}, model{name: "spare", url: other.URL})
	cfg.Models = append(cfg.Models, config.Model{Name: "large", ID: "large-id", Provider: "p-medium"})
	r := NewRouter(cfg, Options{Getenv: envOf("K", "sk-x")})
	resp, err := r.Complete(context.Background(), Request{Models: []string{"medium", "large", "spare"}, Messages: hello})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Requests()); n != 1 {
		t.Errorf("the provider that refused its key was called %d times", n)
	}
	if len(resp.Fallbacks) != 2 || resp.Fallbacks[1].Model != "large" || !strings.Contains(resp.Fallbacks[1].Reason, "it refused the key in K") {
		t.Errorf("fallbacks %+v", resp.Fallbacks)
	}
}

// A provider that names no key variable (a local server) is called without
// an Authorization header.
func TestNoKeySendsNoAuthorization(t *testing.T) {
	s := serve(t, reply(oaitest.Reply{Text: "ok"}))
	r := NewRouter(testConfig(model{name: "a", url: s.URL, local: true}), Options{Getenv: envOf()})
	if _, err := r.Complete(context.Background(), Request{Models: []string{"a"}, Messages: hello}); err != nil {
		t.Fatal(err)
	}
	if auth := s.Requests()[0].Header.Get("Authorization"); auth != "" {
		t.Errorf("Authorization %q", auth)
	}
}

func TestCancelReturnsAtOnce(t *testing.T) {
	stalled := serve(t, reply(oaitest.Reply{Text: "a b c d e", StallAfterChunks: 1}))
	other := serve(t, reply(oaitest.Reply{Text: "ok"}))
	r := NewRouter(testConfig(model{name: "a", url: stalled.URL}, model{name: "b", url: other.URL}), Options{})

	ctx, cancel := context.WithCancel(context.Background())
	var rec recorder
	onDelta := func(d Delta) {
		rec.on(d)
		if d.Text != "" {
			cancel() // the stream has started: cancel mid-stream
		}
	}
	start := time.Now()
	_, err := r.Complete(ctx, Request{Models: []string{"a", "b"}, Messages: hello, OnDelta: onDelta})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %v", el)
	}
	if n := len(other.Requests()); n != 0 {
		t.Errorf("fell back after cancellation: %d requests", n)
	}
	if len(rec.restarts()) != 0 {
		t.Errorf("restart reported for a cancellation: %+v", rec.deltas)
	}
	if h := r.Health()[0]; h.Failures != 0 {
		t.Errorf("cancellation counted as a failure: %+v", h)
	}
}

func TestCancelDuringRetryWait(t *testing.T) {
	s := serve(t, reply(oaitest.Reply{Status: 429, RetryAfter: "30"}))
	r := NewRouter(testConfig(model{name: "a", url: s.URL}), Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.Complete(ctx, Request{Models: []string{"a"}, Messages: hello})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("err %v after %v", err, time.Since(start))
	}
}

func TestPhaseChainFromConfig(t *testing.T) {
	s := serve(t, reply(oaitest.Reply{Text: "ok"}))
	cfg := testConfig(model{name: "a", url: s.URL})
	cfg.Phases = map[string]config.PhaseConfig{config.Review: {Models: []string{"a"}}}
	r := NewRouter(cfg, Options{})
	resp, err := r.Complete(context.Background(), Request{Phase: config.Review, Messages: hello})
	if err != nil || resp.Model != "a" {
		t.Fatalf("resp %+v err %v", resp, err)
	}
	if len(s.Requests()) != 1 || s.Requests()[0].Model != "a-id" {
		t.Errorf("requests %+v", s.Requests())
	}
	empty := NewRouter(&config.Config{}, Options{})
	if _, err := empty.Complete(context.Background(), Request{Phase: config.Split, Messages: hello}); err == nil {
		t.Error("a config without models succeeded")
	}
}

func TestConcurrentCompletes(t *testing.T) {
	var n int
	s := serve(t, func(*oaitest.Request) oaitest.Reply {
		n++ // calls are serialized by oaitest
		if n%4 == 0 {
			return oaitest.Reply{Status: 500}
		}
		return oaitest.Reply{Text: "ok", ChunkDelay: time.Millisecond}
	})
	good := serve(t, reply(oaitest.Reply{Text: "ok"}))
	r := NewRouter(testConfig(model{name: "a", url: s.URL}, model{name: "b", url: good.URL}), Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello, OnDelta: func(Delta) {}})
			errs <- err
			_ = r.Health()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1", time.Second, true},
		{" 7 ", 7 * time.Second, true},
		{now.Add(5 * time.Second).Format(http.TimeFormat), 5 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"", 0, false},
		{"soon", 0, false},
		{"9999999999", maxRetryAfter, true}, // would overflow to a negative wait
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestEstimateTokens(t *testing.T) {
	for in, want := range map[string]int{"": 0, "a": 1, "abcd": 1, "abcde": 2, strings.Repeat("x", 400): 100} {
		if got := EstimateTokens(in); got != want {
			t.Errorf("EstimateTokens(%d bytes) = %d, want %d", len(in), got, want)
		}
	}
	if got := EstimateMessages(hello); got != 2*perMessageTokens+EstimateTokens("You write Go.")+EstimateTokens("Say hello.") {
		t.Errorf("EstimateMessages = %d", got)
	}
	// a tool round's ids and call frames are sent too, and count
	id := "call_" + strings.Repeat("x", 36)
	round := []openai.ChatCompletionMessage{
		{Role: "assistant", ToolCalls: []openai.ToolCall{{ID: id, Type: "function", Function: openai.FunctionCall{Name: "read_file", Arguments: `{}`}}}},
		{Role: "tool", ToolCallID: id, Name: "read_file", Content: "ok"},
	}
	want := 2*perMessageTokens + perCallTokens + 2*EstimateTokens(id) + 2*EstimateTokens("read_file") + EstimateTokens(`{}`) + EstimateTokens("ok")
	if got := EstimateMessages(round); got != want {
		t.Errorf("a tool round: %d, want %d", got, want)
	}
}

// Tickets running at once call the same host; the connections of one
// round of calls serve the next, instead of two kept and the rest dialled
// (and, against a real provider, TLS-handshaken) again.
func TestParallelCallsReuseConnections(t *testing.T) {
	const parallel = 12
	s := serve(t, reply(oaitest.Reply{Text: "ok", Delay: 50 * time.Millisecond}))
	cfg := testConfig(model{name: "m", url: s.URL, keyEnv: "TEST_KEY"})
	cfg.MaxParallel = parallel
	r := NewRouter(cfg, Options{Getenv: envOf("TEST_KEY", "k")})
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		for i := 0; i < parallel; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := r.Complete(context.Background(), Request{Models: []string{"m"}, Messages: hello}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		// a finished call hands its connection back a moment after it
		// returns; the next ticket's call comes a model's answer later
		time.Sleep(100 * time.Millisecond)
	}
	// without reuse: about 32 (12, then 10 more each round)
	if n, most := s.Connections(), parallel+parallel/2; n > most {
		t.Fatalf("%d connections for 3 rounds of %d calls at once, want at most %d", n, parallel, most)
	}
}

// A stream that ends without a finish_reason was cut off (a proxy closing
// the body early), and one cut at the length limit is not a whole answer:
// both fall back rather than hand on half a deliverable.
func TestUnfinishedStreamFallsBack(t *testing.T) {
	for name, rep := range map[string]oaitest.Reply{
		"body ends early": {Text: "The plan: 1. add the part that is never sent", EndAfterChunks: 2},
		"length limit":    {Text: "The plan: 1. add the", Finish: "length"},
	} {
		t.Run(name, func(t *testing.T) {
			cut := serve(t, reply(rep))
			good := serve(t, reply(oaitest.Reply{Text: "a whole answer"}))
			r := NewRouter(testConfig(model{name: "a", url: cut.URL}, model{name: "b", url: good.URL}), Options{})
			resp, err := r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Model != "b" || resp.Content != "a whole answer" || len(resp.Fallbacks) != 1 {
				t.Fatalf("model %s content %q fallbacks %+v", resp.Model, resp.Content, resp.Fallbacks)
			}
		})
	}
}

// An answer past MaxAnswer is cut as it streams, billed as wasted, and the
// call falls back: tens of megabytes would sit in memory, in the database
// and in every later turn.
func TestHugeAnswerIsCut(t *testing.T) {
	old := MaxAnswer
	MaxAnswer = 64 << 10
	t.Cleanup(func() { MaxAnswer = old })
	huge := serve(t, reply(oaitest.Reply{Text: strings.Repeat("words and words ", 40000), Chunks: nil}))
	good := serve(t, reply(oaitest.Reply{Text: "a whole answer"}))
	r := NewRouter(testConfig(model{name: "a", url: huge.URL}, model{name: "b", url: good.URL}), Options{})
	var wasted []Usage
	resp, err := r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello, OnWasted: func(u Usage) { wasted = append(wasted, u) }})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != "b" || len(resp.Fallbacks) != 1 || !strings.Contains(resp.Fallbacks[0].Reason, "the answer passed 64 KiB, more than any phase needs") {
		t.Fatalf("model %s fallbacks %+v", resp.Model, resp.Fallbacks)
	}
	if len(wasted) != 1 || wasted[0].Model != "a" || wasted[0].TokensOut > (64<<10)/2 {
		t.Fatalf("wasted %+v", wasted)
	}
}

// Arguments arrive in many small pieces; joining them must not copy the
// whole string each time (a 1 MiB write_file took 17 s that way).
func BenchmarkToolArgumentsAssembly(b *testing.B) {
	piece := strings.Repeat("x", 8)
	idx := 0
	for i := 0; i < b.N; i++ {
		var a toolAssembler
		a.add(openai.ToolCall{Index: &idx, ID: "c", Function: openai.FunctionCall{Name: "write_file"}})
		for j := 0; j < (1<<20)/len(piece); j++ {
			a.add(openai.ToolCall{Index: &idx, Function: openai.FunctionCall{Arguments: piece}})
		}
		if n := len(a.calls()[0].Function.Arguments); n != 1<<20 {
			b.Fatalf("%d bytes", n)
		}
	}
}

// A request the provider refuses as too long (400/413/422) is that
// request's fault: it falls back, but does not cool the provider down for
// every other ticket.
func TestRequestFaultsDoNotCoolAProviderDown(t *testing.T) {
	bad := serve(t, reply(oaitest.Reply{Status: 400, Error: "This model's maximum context length is 8192 tokens"}))
	good := serve(t, reply(oaitest.Reply{Text: "ok"}))
	cfg := testConfig(model{name: "a", url: bad.URL}, model{name: "b", url: good.URL})
	r := NewRouter(cfg, Options{})
	for range 4 {
		resp, err := r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello})
		if err != nil || resp.Model != "b" {
			t.Fatalf("%v %+v", err, resp)
		}
	}
	if n := len(bad.Requests()); n != 4 {
		t.Fatalf("a was asked %d times of 4: cooled down by requests too long for it", n)
	}
	if h := r.Health(); !h[0].CoolingUntil.IsZero() {
		t.Fatalf("health %+v", h[0])
	}
}

// A call the model answered in part is billed by the provider: its tokens
// reach OnWasted (reported, or estimated from what streamed); a call
// refused before any answer costs nothing.
func TestWastedCallsAreCounted(t *testing.T) {
	for name, tc := range map[string]struct {
		rep       oaitest.Reply
		wasted    bool
		estimated bool
	}{
		"reset mid-stream":      {rep: oaitest.Reply{Text: "one two three four five six", ResetAfterChunks: 2}, wasted: true, estimated: true},
		"body ends early":       {rep: oaitest.Reply{Text: "one two three four five six", EndAfterChunks: 2}, wasted: true, estimated: true},
		"length limit, usage":   {rep: oaitest.Reply{Text: "one two three", Finish: "length", PromptTokens: 700, CompletionTokens: 300}, wasted: true},
		"server error":          {rep: oaitest.Reply{Status: 500}},
		"no answer in the body": {rep: oaitest.Reply{Text: "never sent", EndAfterChunks: 1, NoUsage: true}, wasted: true, estimated: true},
	} {
		t.Run(name, func(t *testing.T) {
			cut := serve(t, reply(tc.rep))
			good := serve(t, reply(oaitest.Reply{Text: "a whole answer", PromptTokens: 10, CompletionTokens: 5}))
			r := NewRouter(testConfig(model{name: "a", url: cut.URL}, model{name: "b", url: good.URL}), Options{})
			var wasted []Usage
			resp, err := r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello,
				OnWasted: func(u Usage) { wasted = append(wasted, u) }})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Model != "b" || resp.TokensIn != 10 || resp.TokensOut != 5 {
				t.Fatalf("response from %s with %d/%d tokens", resp.Model, resp.TokensIn, resp.TokensOut)
			}
			if !tc.wasted {
				if len(wasted) != 0 {
					t.Fatalf("a refused call counted: %+v", wasted)
				}
				return
			}
			if len(wasted) != 1 {
				t.Fatalf("wasted calls %+v, want one", wasted)
			}
			u := wasted[0]
			if u.Model != "a" || u.Provider != "p-a" || u.Estimated != tc.estimated {
				t.Errorf("usage %+v", u)
			}
			if tc.estimated {
				if u.TokensIn != EstimateMessages(hello) || u.TokensOut <= 0 {
					t.Errorf("estimated %d in / %d out, want %d in and some out", u.TokensIn, u.TokensOut, EstimateMessages(hello))
				}
			} else if u.TokensIn != 700 || u.TokensOut != 300 {
				t.Errorf("reported %d in / %d out, want 700 / 300", u.TokensIn, u.TokensOut)
			}
			if want := float64(u.TokensIn)/1e6*1 + float64(u.TokensOut)/1e6*2; u.CostUSD != want {
				t.Errorf("cost %v, want %v", u.CostUSD, want)
			}
		})
	}
}

// A cancellation in the middle of an answer still reports what was billed.
func TestCancelledAnswerIsCounted(t *testing.T) {
	slow := serve(t, reply(oaitest.Reply{Text: "one two three four five six", ChunkDelay: 50 * time.Millisecond}))
	r := NewRouter(testConfig(model{name: "a", url: slow.URL}), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wasted []Usage
	_, err := r.Complete(ctx, Request{Models: []string{"a"}, Messages: hello,
		OnDelta:  func(d Delta) { cancel() },
		OnWasted: func(u Usage) { wasted = append(wasted, u) }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if len(wasted) != 1 || wasted[0].TokensIn == 0 || !wasted[0].Estimated {
		t.Fatalf("wasted %+v, want the cancelled call estimated", wasted)
	}
}

// A provider whose key variable is named but not set is never called (each
// call would only earn a 401 that does not name the variable): its models
// are skipped with that reason, and Warnings lists it. A local provider
// (many take no key) is called without it, with a warning.
func TestUnsetKeyVariableSkipsTheProvider(t *testing.T) {
	keyless := serve(t, reply(oaitest.Reply{Text: "never"}))
	good := serve(t, reply(oaitest.Reply{Text: "ok"}))
	cfg := testConfig(model{name: "a", url: keyless.URL, keyEnv: "UNSET_KEY"}, model{name: "b", url: good.URL, keyEnv: "SET_KEY"})
	r := NewRouter(cfg, Options{Getenv: envOf("SET_KEY", "sk-set")})
	resp, err := r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(keyless.Requests()); n != 0 {
		t.Fatalf("%d requests went to the provider without its key", n)
	}
	if resp.Model != "b" || len(resp.Fallbacks) != 1 || !strings.Contains(resp.Fallbacks[0].Reason, "UNSET_KEY is not set") {
		t.Fatalf("served by %s, fallbacks %+v", resp.Model, resp.Fallbacks)
	}
	if got := r.Warnings(); len(got) != 1 || got[0] != "provider p-a: its key variable UNSET_KEY is not set; its models are skipped" {
		t.Fatalf("Warnings() = %q", got)
	}
	// with no other model, the ticket's error says the same
	_, err = r.Complete(context.Background(), Request{Models: []string{"a"}, Messages: hello})
	if err == nil || !strings.Contains(err.Error(), "UNSET_KEY is not set") {
		t.Fatalf("only the keyless model: %v", err)
	}
}

// A rate limit asking for a long wait is not slept through when another
// model can answer: the call falls back at once, and the provider rests
// for the time asked, so later calls skip it without asking.
func TestLongRetryAfterFallsBackAndRests(t *testing.T) {
	limited := serve(t, reply(oaitest.Reply{Status: 429, RetryAfter: "3600"}))
	good := serve(t, reply(oaitest.Reply{Text: "ok"}))
	r := NewRouter(testConfig(model{name: "a", url: limited.URL}, model{name: "b", url: good.URL}), Options{})
	start := time.Now()
	resp, err := r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello})
	if err != nil || resp.Model != "b" {
		t.Fatalf("resp %+v err %v", resp, err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("waited %v for a rate limit while b could answer", el)
	}
	if len(resp.Fallbacks) != 1 || !strings.Contains(resp.Fallbacks[0].Reason, "asking to wait 1m0s") {
		t.Fatalf("fallbacks %+v", resp.Fallbacks)
	}
	resp, err = r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello})
	if err != nil || resp.Model != "b" || resp.Fallbacks[0].Reason != "provider cooling down" {
		t.Fatalf("second call: %+v %v", resp, err)
	}
	if n := len(limited.Requests()); n != 1 {
		t.Fatalf("the resting provider was asked %d times", n)
	}
	// as long as asked, within the cap on any wait
	if h := r.Health()[0]; !h.CoolingUntil.After(time.Now().Add(50 * time.Second)) {
		t.Fatalf("provider rests until %v", h.CoolingUntil)
	}
}

func TestUnsetKeyVariableOfALocalProvider(t *testing.T) {
	s := serve(t, reply(oaitest.Reply{Text: "ok"}))
	r := NewRouter(testConfig(model{name: "a", url: s.URL, keyEnv: "UNSET_KEY", local: true}), Options{Getenv: envOf()})
	if _, err := r.Complete(context.Background(), Request{Models: []string{"a"}, Messages: hello}); err != nil {
		t.Fatal(err)
	}
	if auth := s.Requests()[0].Header.Get("Authorization"); auth != "" {
		t.Errorf("Authorization %q", auth)
	}
	if got := r.Warnings(); len(got) != 1 || !strings.Contains(got[0], "calls go without a key") {
		t.Fatalf("Warnings() = %q", got)
	}
}

// A Retry-After given as a date is held to the same cap as seconds: a
// provider never rests for a day.
func TestRetryAfterDateIsCapped(t *testing.T) {
	when := time.Now().Add(24 * time.Hour).UTC().Format(http.TimeFormat)
	limited := serve(t, reply(oaitest.Reply{Status: 429, RetryAfter: when}))
	good := serve(t, reply(oaitest.Reply{Text: "ok"}))
	r := NewRouter(testConfig(model{name: "a", url: limited.URL}, model{name: "b", url: good.URL}), Options{})
	if _, err := r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello}); err != nil {
		t.Fatal(err)
	}
	if h := r.Health()[0]; h.CoolingUntil.After(time.Now().Add(maxRetryAfter + time.Second)) {
		t.Fatalf("provider rests until %v", h.CoolingUntil)
	}
}

// With no other model to turn to, a passing failure (a 5xx, a cut
// connection) is retried on the same model after a backoff, shown as a
// wait; a request's own fault (400) is not.
func TestLastModelRetriesPassingFailures(t *testing.T) {
	var calls atomic.Int32
	s := serve(t, func(*oaitest.Request) oaitest.Reply {
		if calls.Add(1) == 1 {
			return oaitest.Reply{Status: 502}
		}
		return oaitest.Reply{Text: "ok"}
	})
	r := NewRouter(testConfig(model{name: "a", url: s.URL}), Options{})
	var waits []string
	resp, err := r.Complete(context.Background(), Request{Models: []string{"a"}, Messages: hello,
		OnWait: func(model string, d time.Duration, reason string) { waits = append(waits, model+": "+reason) }})
	if err != nil || resp.Content != "ok" {
		t.Fatalf("%v %+v", err, resp)
	}
	if calls.Load() != 2 || len(waits) != 1 || waits[0] != "a: HTTP 502" {
		t.Fatalf("%d calls, waits %q", calls.Load(), waits)
	}
	bad := serve(t, reply(oaitest.Reply{Status: 400}))
	r = NewRouter(testConfig(model{name: "b", url: bad.URL}), Options{})
	if _, err := r.Complete(context.Background(), Request{Models: []string{"b"}, Messages: hello}); err == nil {
		t.Fatal("400 answered")
	}
	if n := len(bad.Requests()); n != 1 {
		t.Fatalf("a 400 was retried: %d requests", n)
	}
}

// A provider that cannot be reached as configured (a host name that does
// not resolve, a certificate not trusted, plain HTTP behind an https URL)
// is not retried as if briefly unwell: the error says so at once and
// points at base_url.
func TestUnreachableAsConfiguredIsNotRetried(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(tlsSrv.Close)
	plain := serve(t, reply(oaitest.Reply{Text: "ok"}))
	for name, url := range map[string]string{
		"no such host":      "http://agent-tui-test.invalid/v1",
		"untrusted cert":    tlsSrv.URL,
		"http behind https": strings.Replace(plain.URL, "http://", "https://", 1),
	} {
		t.Run(name, func(t *testing.T) {
			r := NewRouter(testConfig(model{name: "a", url: url}), Options{})
			var waits int
			_, err := r.Complete(context.Background(), Request{Models: []string{"a"}, Messages: hello,
				OnWait: func(string, time.Duration, string) { waits++ }})
			if err == nil || !strings.Contains(err.Error(), "check the provider's base_url") || waits != 0 || strings.Contains(err.Error(), "retries") {
				t.Fatalf("%d waits, err %v", waits, err)
			}
		})
	}
	if n := len(plain.Requests()); n != 0 {
		t.Fatalf("the plain server answered %d requests", n)
	}
}

// A body that is no event stream under an event-stream content type (a
// proxy's page) is quoted, not reported as an empty stream, and not
// retried.
func TestNonStreamBodyIsQuoted(t *testing.T) {
	err := completeFromPage(t, "text/event-stream", "<html>totally not json</html>\n")
	if err == nil || !strings.Contains(err.Error(), `not an event stream (it began "<html>totally not json</html>")`) || strings.Contains(err.Error(), "retr") {
		t.Fatalf("err %v", err)
	}
}

// completeFromPage is one call to a server that answers 200 with body
// under contentType.
func completeFromPage(t *testing.T, contentType, body string) error {
	t.Helper()
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		io.WriteString(w, body)
	}))
	t.Cleanup(page.Close)
	r := NewRouter(testConfig(model{name: "a", url: page.URL}), Options{})
	_, err := r.Complete(context.Background(), Request{Models: []string{"a"}, Messages: hello})
	return err
}

// A web page where the API should be (a base_url without /v1, a login
// proxy) is named as such, not as a broken stream.
func TestHTMLAnswerIsNamed(t *testing.T) {
	err := completeFromPage(t, "text/html; charset=utf-8", "<html><body>Sign in</body></html>\n")
	if err == nil || !strings.Contains(err.Error(), "answered with text/html; charset=utf-8, not an event stream: is base_url its API") || strings.Contains(err.Error(), "retries") {
		t.Fatalf("err %v", err)
	}
}

// A server that ignores stream=true and answers a whole chat.completion is
// the API all right: the error says it did not stream, not to check
// base_url.
func TestUnstreamedCompletionIsNamed(t *testing.T) {
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"a","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":200,"total_tokens":1200}}`)
	}))
	t.Cleanup(page.Close)
	var wasted []Usage
	r := NewRouter(testConfig(model{name: "a", url: page.URL}), Options{})
	_, err := r.Complete(context.Background(), Request{Models: []string{"a"}, Messages: hello, OnWasted: func(u Usage) { wasted = append(wasted, u) }})
	if err == nil || !strings.Contains(err.Error(), "a whole chat.completion, not a stream") || strings.Contains(err.Error(), "base_url") {
		t.Fatalf("err %v", err)
	}
	// the provider bills the answer it sent, streamed or not
	if len(wasted) != 1 || wasted[0].TokensIn != 1000 || wasted[0].TokensOut != 200 || wasted[0].Estimated {
		t.Fatalf("billed %+v", wasted)
	}
}

// A model (or a proxy) that repeats an API key in its answer: the key is
// masked in what streams to the UI, in the answer and in tool arguments,
// though it comes in pieces; text that only looks like its start is sent
// once the next piece shows it is not.
func TestKeyNeverInAnswers(t *testing.T) {
	const key = "sk-very-secret-0xC0FFEE-4242"
	s := serve(t, func(r *oaitest.Request) oaitest.Reply {
		if len(r.Tools) > 0 {
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{{ID: "c1", Name: "write_file", Args: `{"path":"k.txt","content":"` + key + `"}`}}}
		}
		return oaitest.Reply{Chunks: []string{"your key is sk", "-very-sec", "ret-0xC0FFEE", "-4242, and sk-v", "ery is not one: sk-"}}
	})
	cfg := testConfig(model{name: "a", url: s.URL, keyEnv: "K"})
	r := NewRouter(cfg, Options{Getenv: envOf("K", key)})
	var streamed strings.Builder
	resp, err := r.Complete(context.Background(), Request{Models: []string{"a"}, Messages: hello, OnDelta: func(d Delta) { streamed.WriteString(d.Text) }})
	if err != nil {
		t.Fatal(err)
	}
	const want = "your key is ***, and sk-very is not one: sk-"
	if streamed.String() != want || resp.Content != want {
		t.Fatalf("streamed %q, answer %q, want %q", streamed.String(), resp.Content, want)
	}
	resp, err = r.Complete(context.Background(), Request{Models: []string{"a"}, Messages: hello, Tools: []openai.Tool{{Type: openai.ToolTypeFunction, Function: &openai.FunctionDefinition{Name: "write_file"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if args := resp.ToolCalls[0].Function.Arguments; strings.Contains(args, key) || !strings.Contains(args, "***") {
		t.Fatalf("tool arguments %q", args)
	}
}

// A short key (a local server's "x") is masked where it stands alone, not
// inside every word that holds its letters; a real key everywhere.
func TestScrubShortKeys(t *testing.T) {
	r := &Router{secrets: []string{"x", "sk-0123456789abcdef"}}
	got := r.scrub(`proxy error: key "x" rejected; Bearer sk-0123456789abcdefXYZ`)
	if want := `proxy error: key "***" rejected; Bearer ***XYZ`; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	// a match inside a word does not hide one that overlaps it
	r = &Router{secrets: []string{"a-a"}}
	if got := r.scrub("xa-a-a"); got != "xa-***" {
		t.Fatalf("overlapping: %q", got)
	}
	// the letter before a skipped match still counts as a word's
	r = &Router{secrets: []string{"0", "x"}}
	if got := r.scrub("HTTP 500 error: the xx flag, 0 left, x"); got != "HTTP 500 error: the xx flag, *** left, ***" {
		t.Fatalf("inside words: %q", got)
	}
}

// A 404 names one model (its id unknown to the provider): it does not cool
// the provider down for its other models; one for no such path says what
// base_url usually ends in.
func TestNotFoundDoesNotCoolTheProvider(t *testing.T) {
	missing := serve(t, reply(oaitest.Reply{Status: 404, Error: "The model `ghost-1` does not exist"}))
	good := serve(t, reply(oaitest.Reply{Text: "ok"}))
	r := NewRouter(testConfig(model{name: "a", url: missing.URL}, model{name: "b", url: good.URL}), Options{})
	for range 4 {
		resp, err := r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello})
		if err != nil || resp.Model != "b" {
			t.Fatalf("%+v %v", resp, err)
		}
	}
	if n := len(missing.Requests()); n != 4 {
		t.Fatalf("a asked %d times, want 4 (not skipped as cooling)", n)
	}
	if h := r.Health(); h[0].Failures != 0 || !h[0].CoolingUntil.IsZero() {
		t.Fatalf("health %+v", h[0])
	}
	noPath := serve(t, reply(oaitest.Reply{Status: 404, Error: "Invalid URL (POST /chat/completions)"}))
	r = NewRouter(testConfig(model{name: "a", url: noPath.URL}), Options{})
	_, err := r.Complete(context.Background(), Request{Models: []string{"a"}, Messages: hello})
	if err == nil || !strings.Contains(err.Error(), "HTTP 404: Invalid URL (POST /chat/completions) (is base_url its API, often ending in /v1?)") {
		t.Fatalf("%v", err)
	}
}

// A phase on its default tier whose provider cannot be called (its key
// is not set) runs on the nearest tier that can be, end to end: the call
// goes to the medium model, not nowhere.
func TestDefaultTierOfASkippedProviderTakesTheNearest(t *testing.T) {
	s := serve(t, reply(oaitest.Reply{Text: "ok"}))
	cfg := testConfig(model{name: "large", url: s.URL, keyEnv: "LARGE_KEY"}, model{name: "medium", url: s.URL, keyEnv: "MEDIUM_KEY"})
	r := NewRouter(cfg, Options{Getenv: envOf("MEDIUM_KEY", "k")})
	if got := cfg.Phase(config.Techspec).Models; len(got) != 1 || got[0] != "medium" {
		t.Fatalf("techspec runs on %v", got)
	}
	resp, err := r.Complete(context.Background(), Request{Phase: config.Techspec, Messages: hello})
	if err != nil || resp.Model != "medium" {
		t.Fatalf("%+v, %v", resp, err)
	}
	// with both keys, each tier is its own
	cfg = testConfig(model{name: "large", url: s.URL, keyEnv: "LARGE_KEY"}, model{name: "medium", url: s.URL, keyEnv: "MEDIUM_KEY"})
	NewRouter(cfg, Options{Getenv: envOf("MEDIUM_KEY", "k", "LARGE_KEY", "k")})
	if got := cfg.Phase(config.Techspec).Models; got[0] != "large" {
		t.Fatalf("techspec with every key runs on %v", got)
	}
}
