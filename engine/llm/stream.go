package llm

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"agent-tui/engine/config"
)

var (
	errStreamIdle     = errors.New("stream idle")
	errRequestTimeout = errors.New("request timeout")
)

// MaxAnswer caps one answer (text and tool-call arguments): a model gone
// astray that streams tens of megabytes would hold them in memory, write
// them to the database with every save, and send them back on every turn.
// No phase needs more; a real model's output limit is far below it.
var MaxAnswer = 8 << 20

func sizeText(n int) string {
	if n < 1<<10 {
		return fmt.Sprintf("%d bytes", n)
	}
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// failure says why an attempt failed.
type failure struct {
	reason     string
	status     int    // HTTP status, when the server answered with one
	retryAfter string // Retry-After of that answer
	// ofRequest: this request's own fault (too long, refused as invalid,
	// cut at the length limit), not a sign the provider is failing
	ofRequest bool
	// lasting: the provider cannot be reached as configured (a host that
	// does not resolve, a certificate refused), which a retry in a few
	// seconds will not change
	lasting bool
}

// requestFault says whether an HTTP status blames the request, not the
// provider: another ticket's request may well succeed there.
func requestFault(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// attempt streams one completion from one model. It returns the response,
// or why it failed; when the caller's ctx ends, the failure is meaningless
// and the caller checks ctx itself.
func (r *Router) attempt(ctx context.Context, c candidate, req *Request) (*Response, *failure) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	actx, stop := context.WithTimeoutCause(actx, r.reqTimeout, errRequestTimeout)
	defer stop()
	// The watchdog times each wait for the server, the response headers
	// included: a server that accepts the request and says nothing is as
	// stuck as a silent stream. Any bytes count, keep-alive comments too: a
	// gateway sends them while its model thinks (request_timeout still
	// bounds the whole call).
	watchdog := time.AfterFunc(r.idleTimeout, func() { cancel(errStreamIdle) })
	defer watchdog.Stop()
	info := &callInfo{onBytes: func() { watchdog.Reset(r.idleTimeout) }}
	actx = context.WithValue(actx, callInfoKey{}, info)

	id := c.model.ID
	if id == "" {
		id = c.model.Name
	}
	client := r.clients[c.provider.Name]
	if client == nil {
		return nil, &failure{reason: "provider added after the router was built"}
	}
	stream, err := client.CreateChatCompletionStream(actx, openai.ChatCompletionRequest{
		Model:         id,
		Messages:      req.Messages,
		Tools:         req.Tools,
		Stream:        true,
		StreamOptions: &openai.StreamOptions{IncludeUsage: true},
	})
	if err != nil {
		// go-openai returns a stream with no response on error: never Close it.
		return nil, r.classify(actx, err, info, false)
	}
	defer stream.Close()

	var (
		content  strings.Builder
		tools    toolAssembler
		finish   string
		usage    *openai.Usage
		emitted  bool
		received bool
		size     int // of the answer so far
		thought  int // bytes of reasoning, sent apart from the answer
	)
	emit := func(d Delta) {
		emitted = true
		d.Model, d.Provider = c.model.Name, c.provider.Name
		if req.OnDelta != nil {
			req.OnDelta(d)
		}
	}
	// text goes out with the API keys masked, as errors do (a model or a
	// proxy may repeat one): what could be the start of a key is held
	// back until the next piece shows whether it is one, since a key
	// comes in many small pieces
	var held string
	emitText := func(piece string, last bool) {
		held = r.scrub(held + piece)
		keep := 0
		if !last {
			keep = r.keyPrefixAtEnd(held)
		}
		if out := held[:len(held)-keep]; out != "" {
			emit(Delta{Text: out})
		}
		held = held[len(held)-keep:]
	}
	fail := func(f *failure) (*Response, *failure) {
		if req.OnWasted != nil && (received || usage != nil) {
			// the model ran: what it read and wrote so far is billed
			req.OnWasted(usageOf(c.model, c.provider.Name, usage, req.Messages, req.Tools, answerText(content.String(), tools.calls()), thought))
		}
		// The caller's cancellation is no mid-stream failure to report.
		if emitted && ctx.Err() == nil {
			if req.OnDelta != nil {
				req.OnDelta(Delta{Restart: true, Reason: f.reason})
			}
		}
		return nil, f
	}
	for {
		raw, err := stream.RecvRaw()
		if errors.Is(err, io.EOF) {
			break
		}
		var chunk streamChunk
		if err == nil {
			err = json.Unmarshal(raw, &chunk)
		}
		if err != nil {
			return fail(r.classify(actx, err, info, true))
		}
		if why := chunk.errorMessage(); why != "" {
			// an error event in a chunk of its own kind (OpenRouter's, vLLM's)
			return fail(&failure{reason: "stream error: " + r.short(why)})
		}
		// A slow OnDelta consumer is not an idle server.
		watchdog.Stop()
		thought += chunk.reasoning()
		if chunk.Usage != nil && (chunk.Usage.PromptTokens > 0 || chunk.Usage.CompletionTokens > 0) {
			usage = chunk.Usage
		}
		for _, ch := range chunk.Choices {
			if ch.Index != 0 {
				continue // n is always 1; ignore anything else
			}
			received = true
			size += len(ch.Delta.Content)
			for _, tc := range ch.Delta.ToolCalls {
				size += len(tc.Function.Name) + len(tc.Function.Arguments)
			}
			if size > MaxAnswer {
				return fail(&failure{reason: fmt.Sprintf("the answer passed %s, more than any phase needs: cut", sizeText(MaxAnswer)), ofRequest: true})
			}
			if ch.Delta.Content != "" {
				content.WriteString(ch.Delta.Content)
				emitText(ch.Delta.Content, false)
			}
			for _, tc := range ch.Delta.ToolCalls {
				if name := tools.add(tc); name != "" {
					emit(Delta{ToolCall: name})
				}
			}
			if ch.FinishReason != "" {
				finish = string(ch.FinishReason)
			}
		}
		watchdog.Reset(r.idleTimeout)
	}
	emitText("", true)
	answer := withoutThinking(content.String())
	// go-openai reports a clean end of body as io.EOF even without [DONE];
	// an answer with no choice at all is a broken stream, not an empty reply,
	// and one without a finish_reason was cut off (a proxy closing early).
	switch {
	case !received && strings.Contains(info.head.began(), `"chat.completion"`):
		// the API all right, ignoring stream=true: base_url is not at fault;
		// its answer is billed
		usage = info.head.completionUsage()
		return fail(&failure{reason: "the provider answered with a whole chat.completion, not a stream, though the request asked for one: agent-tui needs an endpoint that streams (check the server's or proxy's streaming setting)", status: http.StatusOK})
	case !received && info.contentType != "" && !strings.HasPrefix(info.contentType, "text/event-stream"):
		// a web page or a proxy's notice: most often a base_url that is not the API's
		// status 200: an answer, not a passing failure worth retrying
		return fail(&failure{reason: fmt.Sprintf("the provider answered with %s, not an event stream: is base_url its API (often ending in /v1)?", info.contentType), status: http.StatusOK})
	case !received:
		if began := info.head.began(); began != "" {
			// status 200: an answer, not a passing failure worth retrying
			return fail(&failure{reason: fmt.Sprintf("the provider's answer is not an event stream (it began %q): is base_url its API (often ending in /v1)?", r.short(began)), status: http.StatusOK})
		}
		return fail(&failure{reason: "stream ended without an answer"})
	case finish == "":
		return fail(&failure{reason: "stream ended before the answer was finished (no finish_reason)"})
	case finish == string(openai.FinishReasonLength):
		return fail(&failure{reason: "the answer was cut at the model's length limit", ofRequest: true})
	case filteredFinish(finish):
		// this request's content, which another model may answer
		return fail(&failure{reason: fmt.Sprintf("the provider's content filter stopped the answer (finish_reason %q)", finish), ofRequest: true})
	case failedFinish(finish):
		return fail(&failure{reason: fmt.Sprintf("the provider ended the answer with finish_reason %q", finish)})
	case content.Len() == 0 && len(tools.list) == 0 && thought > 0:
		// a reasoning model that spent its output limit thinking, or a
		// server that puts the whole answer in the reasoning field
		return fail(&failure{reason: fmt.Sprintf("the model answered only in its reasoning field (%s), with no answer text: give it a larger output limit, or check how the server separates reasoning", sizeText(thought)), ofRequest: true})
	case len(tools.list) == 0 && strings.TrimSpace(answer) == "" && strings.TrimSpace(content.String()) != "":
		// (an answer of blanks alone is an empty one, said as such later)
		return fail(&failure{reason: "the answer was all reasoning (a <think> block never closed, or nothing after it): give the model a larger output limit", ofRequest: true})
	}

	calls := tools.calls()
	for i := range calls {
		calls[i].Function.Arguments = r.scrub(calls[i].Function.Arguments)
	}
	resp := &Response{
		Content:      r.scrub(answer),
		ToolCalls:    calls,
		FinishReason: finish,
		Model:        c.model.Name,
		Provider:     c.provider.Name,
	}
	u := usageOf(c.model, c.provider.Name, usage, req.Messages, req.Tools, answerText(content.String(), resp.ToolCalls), thought)
	resp.TokensIn, resp.TokensOut, resp.Estimated, resp.CostUSD = u.TokensIn, u.TokensOut, u.Estimated, u.CostUSD
	return resp, nil
}

// usageOf is a call's usage as the provider reported it, or estimated from
// the prompt, the answer's text and the bytes of reasoning when it reported
// none, priced.
func usageOf(m config.Model, provider string, reported *openai.Usage, prompt []openai.ChatCompletionMessage, tools []openai.Tool, answer string, reasoning int) Usage {
	u := Usage{Model: m.Name, Provider: provider}
	if reported != nil {
		u.TokensIn, u.TokensOut = reported.PromptTokens, reported.CompletionTokens
	} else {
		// the tool definitions go with every call, and are billed, as
		// the reasoning is
		u.TokensIn, u.TokensOut, u.Estimated = EstimateMessages(prompt)+EstimateTools(tools), EstimateTokens(answer)+(reasoning+3)/4, true
	}
	u.CostUSD = m.Cost(u.TokensIn, u.TokensOut)
	return u
}

// EstimatedUsage is what a call on m has cost when it has sent answer so
// far for prompt, estimated and priced: a call still streaming.
func EstimatedUsage(m config.Model, provider string, prompt []openai.ChatCompletionMessage, tools []openai.Tool, answer string) Usage {
	return usageOf(m, provider, nil, prompt, tools, answer, 0)
}

// answerText is an answer's text and tool calls, for estimating its tokens.
func answerText(content string, calls []openai.ToolCall) string {
	var b strings.Builder
	b.WriteString(content)
	for _, tc := range calls {
		b.WriteString(tc.Function.Name)
		b.WriteString(tc.Function.Arguments)
	}
	return b.String()
}

// toolAssembler joins streamed tool-call deltas. OpenAI numbers them with
// Index; servers that omit it (Ollama, some proxies) are followed by order:
// a new ID starts a call, anything else continues the last one. A delta
// whose ID differs from its call's, or that names a call that already has
// a name, starts another call: some servers send every call at index 0,
// or whole calls with neither index nor ID.
type toolAssembler struct {
	list    []openai.ToolCall
	args    []*strings.Builder // arguments by position: appending is not O(n) per delta
	byIndex map[int]int        // stream index -> position in list
}

// add merges one delta and returns the call's name if it just started.
func (a *toolAssembler) add(d openai.ToolCall) string {
	pos := -1
	switch {
	case d.Index != nil:
		if p, ok := a.byIndex[*d.Index]; ok {
			pos = p
		}
	case len(a.list) > 0 && (d.ID == "" || d.ID == a.list[len(a.list)-1].ID):
		pos = len(a.list) - 1
	}
	if pos >= 0 {
		cur := a.list[pos]
		if (d.ID != "" && cur.ID != "" && d.ID != cur.ID) || (d.Function.Name != "" && cur.Function.Name != "") {
			pos = -1
		}
	}
	if pos < 0 {
		pos = len(a.list)
		a.list = append(a.list, openai.ToolCall{Index: d.Index})
		a.args = append(a.args, new(strings.Builder))
		if d.Index != nil {
			if a.byIndex == nil {
				a.byIndex = make(map[int]int)
			}
			a.byIndex[*d.Index] = pos
		}
	}
	tc := &a.list[pos]
	if d.ID != "" {
		tc.ID = d.ID
	}
	if d.Type != "" {
		tc.Type = d.Type
	}
	a.args[pos].WriteString(d.Function.Arguments)
	if d.Function.Name != "" && tc.Function.Name == "" {
		tc.Function.Name = d.Function.Name
		return d.Function.Name
	}
	return ""
}

// calls returns the assembled calls in index order (stream order where
// there is none), each with a type and an ID so tool results can refer to
// them.
func (a *toolAssembler) calls() []openai.ToolCall {
	if len(a.list) == 0 {
		return nil
	}
	out := append([]openai.ToolCall(nil), a.list...)
	for i := range out {
		out[i].Function.Arguments = a.args[i].String()
	}
	indexed := true
	for _, tc := range out {
		indexed = indexed && tc.Index != nil
	}
	if indexed {
		sort.SliceStable(out, func(i, j int) bool { return *out[i].Index < *out[j].Index })
	}
	for i := range out {
		out[i].Index = nil // an index only means something inside a stream
		if out[i].Type == "" {
			out[i].Type = openai.ToolTypeFunction
		}
		if out[i].ID == "" {
			out[i].ID = fmt.Sprintf("call_%d", i)
		}
	}
	return out
}

// streamChunk is one event of the stream, with the error fields that
// gateways put in an event of their own shape (go-openai reads only an
// event that begins with "error") and the reasoning field of vLLM and
// OpenRouter, which go-openai does not decode: one decoding reads them all.
type streamChunk struct {
	openai.ChatCompletionStreamResponse
	Choices []streamChoice  `json:"choices"`
	Error   json.RawMessage `json:"error"`   // OpenRouter: {"message":…,"code":…} beside the choices
	Message string          `json:"message"` // vLLM: {"object":"error","message":…}
}

type streamChoice struct {
	openai.ChatCompletionStreamChoice
	Delta struct {
		openai.ChatCompletionStreamChoiceDelta
		// raw: a reasoning that is not a string is none, not a broken chunk
		Reasoning json.RawMessage `json:"reasoning"`
	} `json:"delta"`
}

// errorMessage is what an error event says, or "" for an ordinary chunk.
func (c *streamChunk) errorMessage() string {
	if c.Object == "error" {
		return cmp.Or(c.Message, "error")
	}
	e := bytes.TrimSpace(c.Error)
	if len(e) == 0 || bytes.Equal(e, []byte("null")) {
		return ""
	}
	var full struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(e, &full) == nil && full.Message != "" {
		return full.Message
	}
	var text string
	if json.Unmarshal(e, &text) == nil && text != "" {
		return text
	}
	return string(e)
}

// reasoning counts the bytes of reasoning in the chunk's first choice:
// DeepSeek's reasoning_content, or else the reasoning field of vLLM and
// OpenRouter.
func (c *streamChunk) reasoning() int {
	n := 0
	for _, ch := range c.Choices {
		if ch.Index == 0 {
			n += len(ch.Delta.ReasoningContent)
		}
	}
	if n > 0 {
		return n
	}
	for _, ch := range c.Choices {
		var text string
		if ch.Index == 0 && len(ch.Delta.Reasoning) > 0 && json.Unmarshal(ch.Delta.Reasoning, &text) == nil {
			n += len(text)
		}
	}
	return n
}

// filteredFinish: a finish_reason saying a filter cut the answer (OpenAI's,
// Azure's, Gemini's through its OpenAI-compatible endpoint).
func filteredFinish(finish string) bool {
	switch strings.ToLower(finish) {
	case "content_filter", "safety", "recitation", "prohibited_content", "blocklist", "spii":
		return true
	}
	return false
}

// failedFinish: a finish_reason saying the answer broke off (OpenRouter's
// error, vLLM's and SGLang's abort).
func failedFinish(finish string) bool {
	switch strings.ToLower(finish) {
	case "error", "abort", "aborted", "cancelled", "canceled":
		return true
	}
	return false
}

// withoutThinking drops a reasoning block that opens the answer
// (<think>…</think>, as DeepSeek R1 and Qwen write it, in any case, with
// attributes or not), or the end of one whose start was in the prompt's
// template: reasoning is not the answer, and a verdict's JSON drafted in
// it is no verdict. A block never closed is all reasoning: "" is left.
func withoutThinking(s string) string {
	if m := thinkOpen.FindStringSubmatchIndex(s); m != nil {
		rest, name := s[m[1]:], s[m[2]:m[3]]
		for _, t := range thinkClose {
			// EqualFold folds as (?i) does: the Kelvin sign is a k
			if !strings.EqualFold(t.name, name) {
				continue
			}
			if c := t.re.FindStringIndex(rest); c != nil {
				return strings.TrimLeft(rest[c[1]:], " \t\r\n")
			}
			break
		}
		return ""
	}
	if i := strings.Index(s, "</think>"); i >= 0 && !strings.Contains(s[:i], "<think>") && !strings.Contains(s[:i], "`") {
		return strings.TrimLeft(s[i+len("</think>"):], " \t\r\n")
	}
	return s
}

var (
	thinkOpen = regexp.MustCompile(`(?i)^\s*<(think|thinking|reasoning)(?:\s[^>]*)?>`)
	// thinkClose closes each name thinkOpen opens
	thinkClose = []struct {
		name string
		re   *regexp.Regexp
	}{
		{"think", regexp.MustCompile(`(?i)</think\s*>`)},
		{"thinking", regexp.MustCompile(`(?i)</thinking\s*>`)},
		{"reasoning", regexp.MustCompile(`(?i)</reasoning\s*>`)},
	}
)
