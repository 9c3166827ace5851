package oaitest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T, fn func(*Request) Reply) *Server {
	t.Helper()
	s := New(fn)
	t.Cleanup(s.Close)
	return s
}

func fixed(rep Reply) func(*Request) Reply { return func(*Request) Reply { return rep } }

const streamBody = `{"model":"m1","stream":true,"stream_options":{"include_usage":true},` +
	`"messages":[{"role":"user","content":"hi"}]}`

// post sends body and returns the response; the caller closes it.
func post(t *testing.T, ctx context.Context, s *Server, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// events reads an SSE body: the payload of each data line.
func events(t *testing.T, r io.Reader) ([]string, error) {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Errorf("not a data line: %q", line)
		}
		out = append(out, data)
	}
	return out, sc.Err()
}

type wireChunk struct {
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Delta struct {
			Role      string `json:"role"`
			Content   string `json:"content"`
			ToolCalls []struct {
				Index    *int   `json:"index"`
				ID       string `json:"id"`
				Type     string `json:"type"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
}

func decodeChunks(t *testing.T, evs []string) []wireChunk {
	t.Helper()
	if len(evs) == 0 || evs[len(evs)-1] != "[DONE]" {
		t.Fatalf("stream does not end with [DONE]: %q", evs)
	}
	var out []wireChunk
	for _, e := range evs[:len(evs)-1] {
		var c wireChunk
		if err := json.Unmarshal([]byte(e), &c); err != nil {
			t.Fatalf("chunk %q: %v", e, err)
		}
		if c.Object != "chat.completion.chunk" {
			t.Errorf("object %q", c.Object)
		}
		out = append(out, c)
	}
	return out
}

func TestStreamFormat(t *testing.T) {
	const text = "one two three four five six seven eight nine ten"
	s := start(t, fixed(Reply{Text: text, PromptTokens: 11, CompletionTokens: 7}))
	resp := post(t, context.Background(), s, streamBody)
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	evs, err := events(t, resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	chunks := decodeChunks(t, evs)
	if len(chunks) != 5+2 {
		t.Fatalf("%d chunks, want 5 content + finish + usage: %q", len(chunks), evs)
	}
	if chunks[0].Choices[0].Delta.Role != "assistant" || chunks[0].Model != "m1" {
		t.Errorf("first chunk %+v", chunks[0])
	}
	var content strings.Builder
	for _, c := range chunks[:5] {
		if c.Choices[0].FinishReason != nil {
			t.Errorf("finish_reason before the end")
		}
		content.WriteString(c.Choices[0].Delta.Content)
	}
	if content.String() != text {
		t.Errorf("content %q", content.String())
	}
	if fin := chunks[5].Choices[0].FinishReason; fin == nil || *fin != "stop" {
		t.Errorf("finish chunk %+v", chunks[5])
	}
	u := chunks[6]
	if u.Choices == nil || len(u.Choices) != 0 || u.Usage == nil || u.Usage.PromptTokens != 11 ||
		u.Usage.CompletionTokens != 7 || u.Usage.TotalTokens != 18 {
		t.Errorf("usage chunk %q", evs[6])
	}
	if !strings.Contains(evs[6], `"choices":[]`) {
		t.Errorf("usage chunk choices not an empty array: %s", evs[6])
	}

	reqs := s.Requests()
	if len(reqs) != 1 || reqs[0].Model != "m1" || !reqs[0].Stream || !reqs[0].IncludeUsage ||
		reqs[0].Messages[0].Content != "hi" || reqs[0].Header.Get("Authorization") != "Bearer k" ||
		string(reqs[0].Raw) != streamBody {
		t.Errorf("recorded %+v", reqs)
	}
}

func TestUsageOnlyWhenAsked(t *testing.T) {
	for _, tt := range []struct {
		name string
		body string
		rep  Reply
	}{
		{"not asked", `{"model":"m","stream":true}`, Reply{Text: "x"}},
		{"NoUsage", streamBody, Reply{Text: "x", NoUsage: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, fixed(tt.rep))
			resp := post(t, context.Background(), s, tt.body)
			defer resp.Body.Close()
			evs, err := events(t, resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range decodeChunks(t, evs) {
				if c.Usage != nil {
					t.Errorf("usage sent: %q", evs)
				}
			}
		})
	}
}

func TestToolCallDeltas(t *testing.T) {
	calls := []ToolCall{{ID: "c1", Name: "read_file", Args: `{"path":"a.go"}`}, {Name: "list_dir", Args: `{"path":"."}`}}
	for _, omit := range []bool{false, true} {
		s := start(t, fixed(Reply{ToolCalls: calls, OmitIndex: omit}))
		resp := post(t, context.Background(), s, streamBody)
		evs, err := events(t, resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		type call struct {
			id, name, args string
			deltas         int
		}
		var got []call
		var finish string
		for _, c := range decodeChunks(t, evs) {
			if len(c.Choices) == 0 {
				continue
			}
			if f := c.Choices[0].FinishReason; f != nil {
				finish = *f
			}
			for _, d := range c.Choices[0].Delta.ToolCalls {
				if (d.Index == nil) != omit {
					t.Errorf("omit=%v but index %v", omit, d.Index)
				}
				if d.ID != "" {
					if d.Function.Name == "" || d.Type != "function" {
						t.Errorf("start delta without name or type: %+v", d)
					}
					got = append(got, call{id: d.ID, name: d.Function.Name})
					continue
				}
				if d.Index != nil && *d.Index != len(got)-1 {
					t.Errorf("argument delta index %d for call %d", *d.Index, len(got)-1)
				}
				got[len(got)-1].args += d.Function.Arguments
				got[len(got)-1].deltas++
			}
		}
		want := []call{{"c1", "read_file", `{"path":"a.go"}`, 0}, {"call_1", "list_dir", `{"path":"."}`, 0}}
		if len(got) != len(want) {
			t.Fatalf("calls %+v", got)
		}
		for i := range want {
			if got[i].id != want[i].id || got[i].name != want[i].name || got[i].args != want[i].args || got[i].deltas < 2 {
				t.Errorf("call %d = %+v, want %+v in 2+ argument deltas", i, got[i], want[i])
			}
		}
		if finish != "tool_calls" {
			t.Errorf("finish %q", finish)
		}
	}
}

func TestNonStreamCompletion(t *testing.T) {
	s := start(t, fixed(Reply{Text: "whole", ToolCalls: []ToolCall{{ID: "c", Name: "search", Args: `{}`}}}))
	c := openai.NewClientWithConfig(clientConfig(s))
	resp, err := c.CreateChatCompletion(context.Background(), openai.ChatCompletionRequest{
		Model: "m", Messages: []openai.ChatCompletionMessage{{Role: "user", Content: "hi"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Object != "chat.completion" || resp.Choices[0].Message.Content != "whole" ||
		resp.Choices[0].FinishReason != openai.FinishReasonToolCalls ||
		resp.Choices[0].Message.ToolCalls[0].Function.Name != "search" || resp.Usage.PromptTokens == 0 {
		t.Errorf("response %+v", resp)
	}
}

func clientConfig(s *Server) openai.ClientConfig {
	cc := openai.DefaultConfig("k")
	cc.BaseURL = s.URL
	return cc
}

func TestGoOpenAIStream(t *testing.T) {
	s := start(t, fixed(Reply{Chunks: []string{"Hel", "lo"}, ToolCalls: []ToolCall{{ID: "c", Name: "n", Args: "{}"}}}))
	c := openai.NewClientWithConfig(clientConfig(s))
	stream, err := c.CreateChatCompletionStream(context.Background(), openai.ChatCompletionRequest{
		Model: "m", StreamOptions: &openai.StreamOptions{IncludeUsage: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	var content, args string
	var usage *openai.Usage
	for {
		ch, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ch.Usage != nil {
			usage = ch.Usage
		}
		for _, c := range ch.Choices {
			content += c.Delta.Content
			for _, tc := range c.Delta.ToolCalls {
				args += tc.Function.Arguments
			}
		}
	}
	if content != "Hello" || args != "{}" || usage == nil || usage.TotalTokens == 0 {
		t.Errorf("content %q args %q usage %+v", content, args, usage)
	}
}

func TestErrorReply(t *testing.T) {
	s := start(t, fixed(Reply{Status: 429, RetryAfter: "3", Error: "slow down"}))
	resp := post(t, context.Background(), s, streamBody)
	defer resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" {
		t.Errorf("status %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	var body openai.ErrorResponse
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Error == nil ||
		body.Error.Message != "slow down" || body.Error.Type != "rate_limit_error" {
		t.Errorf("body %+v err %v", body.Error, err)
	}

	c := openai.NewClientWithConfig(clientConfig(s))
	_, err := c.CreateChatCompletionStream(context.Background(), openai.ChatCompletionRequest{Model: "m"})
	var apiErr *openai.APIError
	if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != 429 {
		t.Errorf("go-openai error %v", err)
	}
}

func TestMalformedSSE(t *testing.T) {
	s := start(t, fixed(Reply{Text: "a b", MalformedSSE: true}))
	c := openai.NewClientWithConfig(clientConfig(s))
	stream, err := c.CreateChatCompletionStream(context.Background(), openai.ChatCompletionRequest{Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("first chunk: %v", err)
	}
	_, err = stream.Recv()
	var syn *json.SyntaxError
	if !errors.As(err, &syn) {
		t.Errorf("second Recv: %v, want a JSON syntax error", err)
	}
}

func TestResetAfterChunks(t *testing.T) {
	s := start(t, fixed(Reply{Text: "one two three four five six", ResetAfterChunks: 2}))
	resp := post(t, context.Background(), s, streamBody)
	defer resp.Body.Close()
	evs, err := events(t, resp.Body)
	if err == nil {
		t.Fatalf("stream ended cleanly after %q", evs)
	}
	if len(evs) != 2 {
		t.Errorf("got %d events before the reset, want 2", len(evs))
	}
}

func TestStallEndsWhenClientLeaves(t *testing.T) {
	s := start(t, fixed(Reply{Text: "one two three", StallAfterChunks: 1}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp := post(t, ctx, s, streamBody)
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "data: {") {
		t.Fatalf("first line %q, %v", line, err)
	}
	got := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(br)
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("stream went on while stalled: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	<-got
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs after the client left")
	}
}

func TestCloseEndsStallAndDelay(t *testing.T) {
	for _, rep := range []Reply{{Text: "a b c", StallAfterChunks: 1}, {Text: "a", Delay: time.Hour}} {
		s := New(fixed(rep))
		resp := make(chan *http.Response, 1)
		go func() {
			r, err := http.Post(s.URL+"/chat/completions", "application/json", strings.NewReader(streamBody))
			if err != nil {
				resp <- nil
				return
			}
			_, _ = io.Copy(io.Discard, r.Body)
			r.Body.Close()
			resp <- r
		}()
		for len(s.Requests()) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // let the handler reach its wait
		closed := make(chan struct{})
		go func() { s.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatalf("Close hangs with %+v", rep)
		}
		<-resp
	}
}

func TestHandlerAndWriteReply(t *testing.T) {
	var seen *Request
	ts := httptest.NewServer(Handler(func(r *Request) Reply {
		seen = r
		return Reply{Text: "served"}
	}))
	defer ts.Close()
	r, err := http.Post(ts.URL+"/v1/chat/completions", "application/json", strings.NewReader(streamBody))
	if err != nil {
		t.Fatal(err)
	}
	evs, err := events(t, r.Body)
	r.Body.Close()
	if err != nil || len(decodeChunks(t, evs)) != 3 || seen == nil || seen.Model != "m1" {
		t.Errorf("events %q err %v seen %+v", evs, err, seen)
	}

	// A hand-built request has nothing that could end a stall: it is skipped.
	rec := httptest.NewRecorder()
	WriteReply(rec, &Request{Model: "x", Stream: true}, Reply{Text: "a b c", StallAfterChunks: 1})
	if !strings.HasSuffix(rec.Body.String(), "data: [DONE]\n\n") {
		t.Errorf("body %q", rec.Body.String())
	}

	r, err = http.Get(ts.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusNotFound {
		t.Errorf("GET /v1/models: %d", r.StatusCode)
	}
}

func TestContentPieces(t *testing.T) {
	for text, n := range map[string]int{"": 0, "one": 1, "a b c": 3, "a b c d e f g h i j k": 5} {
		p := contentPieces(Reply{Text: text})
		if len(p) != n || strings.Join(p, "") != text {
			t.Errorf("contentPieces(%q) = %q, want %d pieces", text, p, n)
		}
	}
}
