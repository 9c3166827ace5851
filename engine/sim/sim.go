// Package sim is the simulated model behind demo mode: an OpenAI-compatible
// chat-completions server that answers each phase of agent-tui plausibly and
// deterministically, so the real client, engine, tools and test runs work
// without a key or a network.
//
// It is stateless: every answer is decided from the request alone (the phase
// line that opens the user message, the sections that follow it, and the tool
// results already in the conversation), so any number of tickets and engine
// restarts can share one server.
package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"agent-tui/engine/oaitest"
)

// Options tune the pace of the simulated model.
type Options struct {
	// ChunkDelay is the pause between streamed pieces (demo ~25ms, so the
	// stream is visible; 0 for benchmarks).
	ChunkDelay time.Duration
	// Latency is a fixed delay before each answer, for benchmarks.
	Latency time.Duration
}

// Handler serves POST .../chat/completions with the simulated model.
func Handler(opts Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
			http.Error(w, `{"error":{"message":"not found","type":"invalid_request_error"}}`, http.StatusNotFound)
			return
		}
		req, err := oaitest.ReadRequest(r)
		if err != nil {
			http.Error(w, fmt.Sprintf(`{"error":{"message":%q,"type":"invalid_request_error"}}`, err.Error()), http.StatusBadRequest)
			return
		}
		rep := toReply(Answer(req.Messages, toolNames(req.Tools)), req)
		rep.ChunkDelay = opts.ChunkDelay
		rep.Delay = opts.Latency
		oaitest.WriteReply(w, req, rep)
	})
}

// Serve starts the simulated model on a loopback port. baseURL ends in /v1;
// stop (also called when ctx ends) closes the server and its streams.
func Serve(ctx context.Context, opts Options) (baseURL string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("simulated model: %w", err)
	}
	srv := &http.Server{Handler: Handler(opts), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Serve ends with ErrServerClosed on stop; any other end shows up
		// as connection errors in the client, which is where it matters
		_ = srv.Serve(ln)
	}()
	stopCtx, cancel := context.WithCancel(ctx)
	go func() {
		<-stopCtx.Done()
		_ = srv.Close()
	}()
	stop = func() {
		cancel()
		<-done
	}
	return "http://" + ln.Addr().String() + "/v1", stop, nil
}

// Turn is one answer of the simulated model: text, and tool calls that the
// engine will run before calling again.
type Turn struct {
	Text  string
	Calls []Call
}

// Call is one tool call.
type Call struct {
	Name string
	Args map[string]any
}

func toolNames(tools []openai.Tool) map[string]bool {
	out := map[string]bool{}
	for _, t := range tools {
		if t.Function != nil {
			out[t.Function.Name] = true
		}
	}
	return out
}

// Answer decides the next turn of a conversation. tools are the names of
// the tools offered; calls to others are never made.
func Answer(msgs []openai.ChatCompletionMessage, tools map[string]bool) Turn {
	c := newConvo(msgs, tools)
	t := c.answer()
	// never call a tool the phase was not given: the model would only get
	// an error back, and a phase without tools would loop on nothing
	var calls []Call
	for _, call := range t.Calls {
		if tools[call.Name] {
			calls = append(calls, call)
		}
	}
	t.Calls = calls
	return t
}

func toReply(t Turn, req *oaitest.Request) oaitest.Reply {
	rep := oaitest.Reply{Text: t.Text, Chunks: chunks(t.Text)}
	if rep.Chunks == nil {
		rep.Chunks = []string{}
	}
	base := 0
	for _, m := range req.Messages {
		if m.Role == openai.ChatMessageRoleTool {
			base++
		}
	}
	for i, call := range t.Calls {
		args, err := json.Marshal(call.Args)
		if err != nil {
			args = []byte("{}")
		}
		// ids unique within the conversation, as real models give them
		rep.ToolCalls = append(rep.ToolCalls, oaitest.ToolCall{
			ID: fmt.Sprintf("call_sim_%d", base+i+1), Name: call.Name, Args: string(args),
		})
	}
	return rep
}

// chunks cuts text into pieces of a few words, the grain a model streams
// at, keeping whitespace so the pieces join back exactly.
func chunks(text string) []string {
	if text == "" {
		return nil
	}
	var out []string
	start, words := 0, 0
	inWord := false
	for i, r := range text {
		space := r == ' ' || r == '\n' || r == '\t'
		if inWord && space {
			words++
			if words == 3 || r == '\n' {
				out = append(out, text[start:i])
				start, words = i, 0
			}
		}
		inWord = !space
	}
	return append(out, text[start:])
}
