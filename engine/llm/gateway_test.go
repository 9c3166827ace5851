package llm

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"agent-tui/engine/oaitest"
)

// sse serves each request the events given (each a data payload, or a
// line starting with ":" sent as it is), pausing gap before each.
func sse(t *testing.T, gap time.Duration, events ...string) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for _, ev := range events {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(gap):
			}
			if strings.HasPrefix(ev, ":") {
				fmt.Fprintf(w, "%s\n\n", ev)
			} else {
				fmt.Fprintf(w, "data: %s\n\n", ev)
			}
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(s.Close)
	return s.URL + "/v1"
}

func delta(content, finish string) string {
	f := "null"
	if finish != "" {
		f = fmt.Sprintf("%q", finish)
	}
	return fmt.Sprintf(`{"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":%q},"finish_reason":%s}]}`, content, f)
}

// Streams that end in a gateway's error, a content filter or an abort are
// no answer: the next model is asked, and the reason says what happened,
// instead of the half-written text being taken for the deliverable.
func TestBrokenOffAnswersFallBack(t *testing.T) {
	for name, tc := range map[string]struct {
		events []string
		reason string
	}{
		"OpenRouter's error beside the choices": {[]string{delta("## Diag", ""),
			`{"id":"c","object":"chat.completion.chunk","error":{"code":502,"message":"Upstream provider overloaded"},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}`, "[DONE]"},
			"stream error: Upstream provider overloaded"},
		"vLLM's error object": {[]string{delta("## Diag", ""), `{"object":"error","message":"engine dead","type":"InternalServerError","code":500}`},
			"stream error: engine dead"},
		"content filter":     {[]string{delta("The root cause is", ""), delta("", "content_filter"), "[DONE]"}, `content filter stopped the answer (finish_reason "content_filter")`},
		"abort":              {[]string{delta("The root", ""), delta("", "abort"), "[DONE]"}, `ended the answer with finish_reason "abort"`},
		"reasoning only":     {[]string{`{"choices":[{"index":0,"delta":{"content":"","reasoning_content":"Let me think about the plan at length"},"finish_reason":null}]}`, delta("", "stop"), "[DONE]"}, "answered only in its reasoning field"},
		"reasoning, vLLM's ": {[]string{`{"choices":[{"index":0,"delta":{"reasoning":"Let me think"},"finish_reason":null}]}`, delta("", "stop"), "[DONE]"}, "answered only in its reasoning field"},
	} {
		t.Run(name, func(t *testing.T) {
			good := serve(t, reply(oaitest.Reply{Text: "a whole answer"}))
			cfg := testConfig(model{name: "a", url: sse(t, 0, tc.events...)}, model{name: "b", url: good.URL})
			r := NewRouter(cfg, Options{})
			var wasted []Usage
			resp, err := r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello,
				OnWasted: func(u Usage) { wasted = append(wasted, u) }})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Model != "b" || resp.Content != "a whole answer" || len(resp.Fallbacks) != 1 || !strings.Contains(resp.Fallbacks[0].Reason, tc.reason) {
				t.Fatalf("model %s content %q fallbacks %+v", resp.Model, resp.Content, resp.Fallbacks)
			}
			if len(wasted) != 1 || wasted[0].TokensOut == 0 {
				t.Fatalf("the broken-off answer was not billed as written: %+v", wasted)
			}
		})
	}
}

// A reasoning block opening the answer is not the answer: a verdict's JSON
// drafted in it is not the verdict, nor is it the document later phases read.
func TestThinkingIsNotTheAnswer(t *testing.T) {
	for name, tc := range map[string]struct{ content, want string }{
		"think block":               {"<think>\nThe format is {\"pass\": true, \"objections\": []}.\n</think>\nThe change does not fix the bug.", "The change does not fix the bug."},
		"its start in the template": {"The user wants a verdict {\"pass\": true}.\n</think>\n\n## Diagnosis", "## Diagnosis"},
		"upper case, attributes":    {"<THINK type=\"x\">{\"pass\": true}</Think >\nThe real answer.", "The real answer."},
		"no block":                  {"## Plan\n\nWrite `</think>` tags out.", "## Plan\n\nWrite `</think>` tags out."},
	} {
		t.Run(name, func(t *testing.T) {
			s := serve(t, reply(oaitest.Reply{Text: tc.content}))
			r := NewRouter(testConfig(model{name: "a", url: s.URL}), Options{})
			resp, err := r.Complete(context.Background(), Request{Models: []string{"a"}, Messages: hello})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Content != tc.want {
				t.Fatalf("content %q, want %q", resp.Content, tc.want)
			}
		})
	}
}

// An answer that is all reasoning, its block never closed, is none: a
// verdict drafted in it must not pass.
func TestUnclosedThinkingIsNoAnswer(t *testing.T) {
	s := serve(t, reply(oaitest.Reply{Text: "<think>\nThe verdict is {\"pass\": true, \"objections\": []} but let me keep thinking about"}))
	good := serve(t, reply(oaitest.Reply{Text: "a whole answer"}))
	r := NewRouter(testConfig(model{name: "a", url: s.URL}, model{name: "b", url: good.URL}), Options{})
	resp, err := r.Complete(context.Background(), Request{Models: []string{"a", "b"}, Messages: hello})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != "b" || len(resp.Fallbacks) != 1 || !strings.Contains(resp.Fallbacks[0].Reason, "all reasoning") {
		t.Fatalf("model %s content %q fallbacks %+v", resp.Model, resp.Content, resp.Fallbacks)
	}
}

// An answer of blanks alone is no reasoning: it comes back as it is (the
// engine calls it empty), not as a think block never closed.
func TestBlankAnswerIsNotReasoning(t *testing.T) {
	s := serve(t, reply(oaitest.Reply{Text: "   \n\t\n \u00a0 \u3000"}))
	resp, err := NewRouter(testConfig(model{name: "a", url: s.URL}), Options{}).Complete(context.Background(), Request{Models: []string{"a"}, Messages: hello})
	if err != nil || len(resp.Fallbacks) != 0 || strings.TrimSpace(resp.Content) != "" {
		t.Fatalf("resp %+v err %v", resp, err)
	}
}

// A gateway's keep-alive comments while its model thinks are not silence;
// a server that sends no headers at all is said to make the call wait.
func TestKeepAliveIsNotIdle(t *testing.T) {
	url := sse(t, 80*time.Millisecond, ": OPENROUTER PROCESSING", ": OPENROUTER PROCESSING", ": OPENROUTER PROCESSING", ": OPENROUTER PROCESSING", ": OPENROUTER PROCESSING", delta("late but whole", "stop"), "[DONE]")
	cfg := testConfig(model{name: "a", url: url})
	cfg.StreamIdleTimeout.Duration = 250 * time.Millisecond
	resp, err := NewRouter(cfg, Options{}).Complete(context.Background(), Request{Models: []string{"a"}, Messages: hello})
	if err != nil || resp.Content != "late but whole" {
		t.Fatalf("resp %+v err %v", resp, err)
	}
}

// A proxy's HTML error page is named by its title, not pasted; a prompt
// over the model's window names the budget to lower.
func TestErrorBodiesSaid(t *testing.T) {
	for name, tc := range map[string]struct {
		status      int
		contentType string
		body        string
		want        string
	}{
		"nginx 502":      {502, "text/html", "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", "HTTP 502 (a web page)"},
		"titled page":    {503, "text/html", "<!DOCTYPE html><HTML><HEAD><TITLE>Maintenance until 10:00</TITLE></HEAD><body>…</body></HTML>", "HTTP 503 (a web page: Maintenance until 10:00)"},
		"context length": {400, "application/json", `{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}}`, "lower the phase's context_tokens"},
	} {
		t.Run(name, func(t *testing.T) {
			s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			t.Cleanup(s.Close)
			cfg := testConfig(model{name: "a", url: s.URL + "/v1"})
			cfg.RetryBackoff.Duration = time.Millisecond
			_, err := NewRouter(cfg, Options{}).Complete(context.Background(), Request{Models: []string{"a"}, Messages: hello})
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "<") {
				t.Fatalf("err %v", err)
			}
		})
	}
}

func TestWebPageTitle(t *testing.T) {
	for body, want := range map[string]string{
		"<html><title>İstanbul down</title></html>": "İstanbul down",
		"<html><h1>Gone</h1></html>":                "Gone",
		"<html>\xff<title>x</title>":                "x",
		"<html><title>unclosed":                     "",
	} {
		if got, ok := webPage(body); !ok || got != want {
			t.Errorf("webPage(%q) = %q %v, want %q", body, got, ok, want)
		}
	}
	if _, ok := webPage(`{"error":"<html>"}`); ok {
		t.Error("JSON taken for a page")
	}
}
