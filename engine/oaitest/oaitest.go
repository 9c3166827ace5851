// Package oaitest is a scripted OpenAI chat-completions server. Tests, the
// demo's simulated model and benchmarks use it so that the real go-openai
// client, streaming and tool-call assembly run against real HTTP.
package oaitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// Request is what the server received, decoded.
type Request struct {
	Model        string
	Messages     []openai.ChatCompletionMessage
	Tools        []openai.Tool
	Stream       bool
	IncludeUsage bool
	Header       http.Header
	Raw          []byte

	gone <-chan struct{} // closed when the client goes away
}

// ToolCall is one tool call the scripted model makes.
type ToolCall struct{ ID, Name, Args string }

// Reply scripts the answer to one request. The zero Reply is an empty
// successful answer.
type Reply struct {
	Status     int    // non-200: an OpenAI-style JSON error body with this status
	RetryAfter string // Retry-After header sent with Status
	Error      string // message of the error body (default: the status text)

	Text   string   // assistant content, streamed in Chunks pieces (default: ~5 pieces split by words)
	Chunks []string // explicit content pieces; override the splitting of Text

	ToolCalls []ToolCall // streamed as a start delta (index, id, name) then the arguments in 2+ pieces
	OmitIndex bool       // tool-call deltas without "index", as some servers send them
	IndexZero bool       // every tool call at index 0, told apart by its id only
	WholeCall bool       // each tool call in one delta with neither index nor id

	NoUsage          bool // no usage chunk even when include_usage was asked
	PromptTokens     int  // usage to report; default a rough estimate
	CompletionTokens int

	ChunkDelay time.Duration // between chunks
	Delay      time.Duration // before the first byte

	StallAfterChunks int    // after this many chunks stop sending but keep the connection open
	ResetAfterChunks int    // after this many chunks close the TCP connection abruptly
	EndAfterChunks   int    // after this many chunks end the body cleanly: no finish_reason, no [DONE]
	Finish           string // finish_reason to send instead of stop / tool_calls (e.g. "length")
	MalformedSSE     bool   // send a "data: {not json" line after the first chunk
}

// Server is a running scripted server.
type Server struct {
	URL string // base URL ending in /v1, for openai.ClientConfig.BaseURL

	ts    *httptest.Server
	h     *handler
	conns atomic.Int64
}

// New starts a server that answers each chat-completions request with
// handler's Reply. Calls to handler are serialized, so a handler may keep
// unguarded state such as a request counter.
func New(handler func(r *Request) Reply) *Server {
	h := newHandler(handler)
	ts := httptest.NewUnstartedServer(h)
	srv := &Server{ts: ts, h: h}
	ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			srv.conns.Add(1)
		}
	}
	ts.Start()
	srv.URL = ts.URL + "/v1"
	return srv
}

// Connections is how many TCP connections clients have opened so far.
func (s *Server) Connections() int { return int(s.conns.Load()) }

// Close ends stalled and delayed replies, then shuts the server down.
func (s *Server) Close() {
	s.h.closeOnce.Do(func() { close(s.h.done) })
	s.ts.Close()
}

// Requests returns all requests received so far, in order.
func (s *Server) Requests() []*Request {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	return append([]*Request(nil), s.h.reqs...)
}

// Handler returns the server's http.Handler for callers that serve it
// themselves. A stalled reply there ends when its client goes away.
func Handler(fn func(r *Request) Reply) http.Handler { return newHandler(fn) }

type handler struct {
	fn        func(*Request) Reply
	fnMu      sync.Mutex
	mu        sync.Mutex
	reqs      []*Request
	done      chan struct{} // closed by Server.Close to release stalls
	closeOnce sync.Once
}

func newHandler(fn func(*Request) Reply) *handler {
	return &handler{fn: fn, done: make(chan struct{})}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		writeError(w, http.StatusNotFound, "no route for "+r.Method+" "+r.URL.Path)
		return
	}
	req, err := ReadRequest(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	h.mu.Lock()
	h.reqs = append(h.reqs, req)
	h.mu.Unlock()

	h.fnMu.Lock()
	rep := h.fn(req)
	h.fnMu.Unlock()

	writeReply(w, req, rep, h.done)
}

// ReadRequest decodes a chat-completions request, for handlers that answer
// with WriteReply themselves.
func ReadRequest(r *http.Request) (*Request, error) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, fmt.Errorf("reading body: %w", err)
	}
	var body struct {
		Model         string                         `json:"model"`
		Messages      []openai.ChatCompletionMessage `json:"messages"`
		Tools         []openai.Tool                  `json:"tools"`
		Stream        bool                           `json:"stream"`
		StreamOptions *openai.StreamOptions          `json:"stream_options"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, fmt.Errorf("invalid JSON body: %w", err)
	}
	return &Request{
		Model:        body.Model,
		Messages:     body.Messages,
		Tools:        body.Tools,
		Stream:       body.Stream,
		IncludeUsage: body.StreamOptions != nil && body.StreamOptions.IncludeUsage,
		Header:       r.Header.Clone(),
		Raw:          raw,
		gone:         r.Context().Done(),
	}, nil
}

// WriteReply encodes rep as the answer to req: a JSON error, a
// chat.completion object, or an SSE stream of chat.completion.chunk events.
// Delays and stalls end when the client goes away if req came from
// ReadRequest; for a Request built by hand a stall is skipped, since nothing
// would ever end it.
func WriteReply(w http.ResponseWriter, req *Request, rep Reply) {
	writeReply(w, req, rep, nil)
}

// writeReply is WriteReply that also stops waiting when done is closed.
func writeReply(w http.ResponseWriter, req *Request, rep Reply, done <-chan struct{}) {
	gone := req.gone
	if gone == nil && done == nil {
		rep.StallAfterChunks = 0
	}
	// wait reports false when the reply should be abandoned.
	wait := func(d time.Duration) bool {
		if d <= 0 {
			return true
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-gone:
		case <-done:
		}
		return false
	}
	if !wait(rep.Delay) {
		return
	}
	if rep.Status != 0 && rep.Status != http.StatusOK {
		if rep.RetryAfter != "" {
			w.Header().Set("Retry-After", rep.RetryAfter)
		}
		msg := rep.Error
		if msg == "" {
			msg = http.StatusText(rep.Status)
		}
		writeError(w, rep.Status, msg)
		return
	}
	model := req.Model
	if model == "" {
		model = "oaitest"
	}
	prompt, completion := rep.PromptTokens, rep.CompletionTokens
	if prompt == 0 {
		prompt = estimate(len(req.Raw))
	}
	if completion == 0 {
		n := len(rep.Text) + len(strings.Join(rep.Chunks, ""))
		for _, tc := range rep.ToolCalls {
			n += len(tc.Name) + len(tc.Args)
		}
		completion = estimate(n)
	}
	u := &usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
	if !req.Stream {
		writeCompletion(w, model, rep, u)
		return
	}

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Connection", "keep-alive")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()

	events := streamEvents(model, rep, u, req.IncludeUsage && !rep.NoUsage)
	for i, ev := range events {
		if i > 0 && !wait(rep.ChunkDelay) {
			return
		}
		if rep.StallAfterChunks > 0 && i == rep.StallAfterChunks {
			select {
			case <-gone:
			case <-done:
			}
			return
		}
		if rep.EndAfterChunks > 0 && i == rep.EndAfterChunks {
			return // a complete HTTP body that ends mid-answer
		}
		if rep.ResetAfterChunks > 0 && i == rep.ResetAfterChunks {
			// Closing the hijacked connection leaves the chunked body
			// unterminated, which the client reads as an unexpected EOF.
			conn, _, err := rc.Hijack()
			if err != nil {
				// No hijacking (HTTP/2): aborting the handler resets the stream.
				panic(http.ErrAbortHandler)
			}
			_ = conn.Close()
			return
		}
		if _, err := fmt.Fprintf(w, "data: %s\n\n", ev); err != nil {
			return
		}
		if i == 0 && rep.MalformedSSE {
			_, _ = io.WriteString(w, "data: {not json\n\n")
		}
		_ = rc.Flush()
	}
	_, _ = io.WriteString(w, "data: [DONE]\n\n")
	_ = rc.Flush()
}

func estimate(n int) int {
	if n <= 0 {
		return 1
	}
	return (n + 3) / 4
}

// Wire types, written out so that optional fields (index, usage) can be
// omitted exactly as real servers do.
type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type fnDelta struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

type toolDelta struct {
	Index    *int    `json:"index,omitempty"`
	ID       string  `json:"id,omitempty"`
	Type     string  `json:"type,omitempty"`
	Function fnDelta `json:"function"`
}

type delta struct {
	Role      string      `json:"role,omitempty"`
	Content   *string     `json:"content,omitempty"`
	ToolCalls []toolDelta `json:"tool_calls,omitempty"`
}

type chunkChoice struct {
	Index        int     `json:"index"`
	Delta        delta   `json:"delta"`
	FinishReason *string `json:"finish_reason"`
}

type chunk struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"`
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []chunkChoice `json:"choices"`
	Usage   *usage        `json:"usage,omitempty"`
}

// streamEvents returns the JSON of each data event before [DONE].
func streamEvents(model string, rep Reply, u *usage, withUsage bool) [][]byte {
	created := time.Now().Unix()
	var deltas []delta
	for _, p := range contentPieces(rep) {
		deltas = append(deltas, delta{Content: &p})
	}
	for i, tc := range rep.ToolCalls {
		idx := func() *int {
			switch {
			case rep.OmitIndex || rep.WholeCall:
				return nil
			case rep.IndexZero:
				zero := 0
				return &zero
			}
			return &i
		}
		id := tc.ID
		if id == "" {
			id = fmt.Sprintf("call_%d", i)
		}
		if rep.WholeCall {
			deltas = append(deltas, delta{ToolCalls: []toolDelta{{Type: "function", Function: fnDelta{Name: tc.Name, Arguments: tc.Args}}}})
			continue
		}
		deltas = append(deltas, delta{ToolCalls: []toolDelta{{
			Index: idx(), ID: id, Type: "function", Function: fnDelta{Name: tc.Name},
		}}})
		for _, a := range splitArgs(tc.Args) {
			deltas = append(deltas, delta{ToolCalls: []toolDelta{{Index: idx(), Function: fnDelta{Arguments: a}}}})
		}
	}
	if len(deltas) == 0 {
		empty := ""
		deltas = append(deltas, delta{Content: &empty})
	}
	deltas[0].Role = "assistant"

	finish := "stop"
	if len(rep.ToolCalls) > 0 {
		finish = "tool_calls"
	}
	if rep.Finish != "" {
		finish = rep.Finish
	}
	var out [][]byte
	add := func(c chunk) {
		c.ID, c.Object, c.Created, c.Model = "chatcmpl-oaitest", "chat.completion.chunk", created, model
		b, err := json.Marshal(c)
		if err != nil {
			panic(err) // static types: cannot fail
		}
		out = append(out, b)
	}
	for _, d := range deltas {
		add(chunk{Choices: []chunkChoice{{Delta: d}}})
	}
	add(chunk{Choices: []chunkChoice{{FinishReason: &finish}}})
	if withUsage {
		add(chunk{Choices: []chunkChoice{}, Usage: u})
	}
	return out
}

// contentPieces splits the content the way a model streams it.
func contentPieces(rep Reply) []string {
	if rep.Chunks != nil {
		return rep.Chunks
	}
	if rep.Text == "" {
		return nil
	}
	words := strings.SplitAfter(rep.Text, " ")
	n := min(len(words), 5)
	pieces := make([]string, n)
	for i := range n {
		pieces[i] = strings.Join(words[i*len(words)/n:(i+1)*len(words)/n], "")
	}
	return pieces
}

// splitArgs cuts arguments in at least two pieces so clients must join them.
func splitArgs(s string) []string {
	if len(s) < 2 {
		return []string{s, ""}
	}
	third := max(len(s)/3, 1)
	return []string{s[:third], s[third : 2*third], s[2*third:]}
}

func writeCompletion(w http.ResponseWriter, model string, rep Reply, u *usage) {
	content := rep.Text
	if rep.Chunks != nil {
		content = strings.Join(rep.Chunks, "")
	}
	msg := openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: content}
	finish := openai.FinishReasonStop
	for i, tc := range rep.ToolCalls {
		id := tc.ID
		if id == "" {
			id = fmt.Sprintf("call_%d", i)
		}
		msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{
			ID: id, Type: openai.ToolTypeFunction,
			Function: openai.FunctionCall{Name: tc.Name, Arguments: tc.Args},
		})
		finish = openai.FinishReasonToolCalls
	}
	resp := map[string]any{
		"id":      "chatcmpl-oaitest",
		"object":  "chat.completion",
		"created": time.Now().Unix(),
		"model":   model,
		"choices": []map[string]any{{"index": 0, "message": msg, "finish_reason": finish}},
		"usage":   u,
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(resp); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, status int, msg string) {
	typ := "server_error"
	if status < 500 {
		typ = "invalid_request_error"
	}
	if status == http.StatusTooManyRequests {
		typ = "rate_limit_error"
	}
	body, _ := json.Marshal(map[string]any{
		"error": map[string]any{"message": msg, "type": typ, "code": nil, "param": nil},
	})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
