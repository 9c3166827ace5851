package llm

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// classify turns an attempt's error into a short, key-free reason.
// midStream: the response had started when err happened.
func (r *Router) classify(actx context.Context, err error, info *callInfo, midStream bool) *failure {
	if actx.Err() != nil {
		switch context.Cause(actx) {
		case errStreamIdle:
			if info.head == nil {
				// no response headers yet: a server that runs one request
				// at a time holds the others this long
				return &failure{reason: "no response within " + r.idleTimeout.String() + " (a server that answers one request at a time makes the others wait: raise stream_idle_timeout, or lower max_parallel)"}
			}
			return &failure{reason: "stream idle for " + r.idleTimeout.String()}
		case errRequestTimeout:
			return &failure{reason: "request timed out after " + r.reqTimeout.String()}
		}
		return &failure{reason: "canceled"}
	}
	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &apiErr) && apiErr.HTTPStatusCode > 0:
		return r.statusFailure(apiErr.HTTPStatusCode, apiErr.Message, info)
	case errors.As(err, &apiErr):
		// An error event inside a 200 stream.
		return &failure{reason: "stream error: " + r.short(apiErr.Message)}
	case errors.As(err, &reqErr):
		return r.statusFailure(reqErr.HTTPStatusCode, string(reqErr.Body), info)
	case errors.As(err, &syntaxErr), errors.As(err, &typeErr),
		errors.Is(err, openai.ErrTooManyEmptyStreamMessages):
		return &failure{reason: "malformed stream"}
	case midStream && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.EPIPE)):
		return &failure{reason: "connection reset mid-stream"}
	case midStream:
		return &failure{reason: "stream failed: " + r.short(err.Error())}
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return &failure{reason: "timeout"}
	}
	lasting := unreachableAsConfigured(err)
	// url.Error repeats the whole URL; the cause alone says enough.
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	reason := "connection failed: " + r.short(err.Error())
	if lasting {
		reason += " (check the provider's base_url)"
	}
	return &failure{reason: reason, lasting: lasting}
}

// unreachableAsConfigured says whether err means the provider's address
// or its certificate is wrong, not that it is briefly unwell.
func unreachableAsConfigured(err error) bool {
	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var header tls.RecordHeaderError
	switch {
	case errors.As(err, &dnsErr):
		return dnsErr.IsNotFound
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid),
		errors.As(err, &verify), errors.As(err, &header):
		return true
	}
	// net/http words these without a type to match
	msg := err.Error()
	return strings.Contains(msg, "unsupported protocol scheme") || strings.Contains(msg, "server gave HTTP response to HTTPS client")
}

func (r *Router) statusFailure(status int, msg string, info *callInfo) *failure {
	f := &failure{reason: fmt.Sprintf("HTTP %d", status), status: status, retryAfter: info.retryAfter}
	// A 4xx is about this request or this key: say what the server said,
	// since the same request may need fixing rather than another model
	// (and a 5xx's words may say whether waiting helps).
	if status != http.StatusTooManyRequests {
		if title, ok := webPage(msg); ok {
			// a proxy's error page: its title says it, its markup does not
			f.reason += " (a web page"
			if title != "" && title != http.StatusText(status) && title != fmt.Sprintf("%d %s", status, http.StatusText(status)) {
				f.reason += ": " + r.short(title)
			}
			f.reason += ")"
		} else if m := r.short(msg); m != "" && m != http.StatusText(status) {
			f.reason += ": " + m
		}
	}
	if requestFault(status) && promptTooLong(msg) {
		f.reason += " (the prompt is more than this model takes: lower the phase's context_tokens, or give the phase a model with a larger context window)"
	}
	if status == http.StatusNotFound && !strings.Contains(strings.ToLower(msg), "model") {
		// no such path, not no such model
		f.reason += " (is base_url its API, often ending in /v1?)"
	}
	return f
}

// webPage says whether an error body is an HTML page, and its title.
func webPage(body string) (title string, ok bool) {
	body = strings.TrimSpace(body)
	// lowered byte by byte, keeping body's offsets (strings.ToLower may not)
	lower := []byte(body)
	for i, c := range lower {
		if 'A' <= c && c <= 'Z' {
			lower[i] = c + 'a' - 'A'
		}
	}
	head := string(lower)
	if !strings.HasPrefix(head, "<") {
		return "", false
	}
	if !strings.Contains(head, "<html") && !strings.Contains(head, "<!doctype html") && !strings.Contains(head, "<body") && !strings.Contains(head, "<head") {
		return "", false
	}
	for _, tag := range []string{"title", "h1"} {
		start := strings.Index(head, "<"+tag)
		if start < 0 {
			continue
		}
		open := strings.IndexByte(head[start:], '>')
		end := strings.Index(head[start:], "</"+tag)
		if open >= 0 && end > open {
			return strings.Join(strings.Fields(body[start+open+1:start+end]), " "), true
		}
	}
	return "", true
}

// promptTooLong says whether a refusal is about the prompt's length, as
// OpenAI, vLLM, llama.cpp, Ollama and Anthropic-style gateways word it.
func promptTooLong(body string) bool {
	b := strings.ToLower(body)
	for _, w := range []string{"context length", "context_length", "maximum context", "context window", "too many tokens", "prompt is too long", "input is too long", "exceeds the context", "exceed_context_size"} {
		if strings.Contains(b, w) {
			return true
		}
	}
	return false
}

// short scrubs secrets and keeps one line of bounded length.
func (r *Router) short(s string) string {
	s = r.scrub(strings.Join(strings.Fields(s), " "))
	const limit = 160
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return s
}

// parseRetryAfter reads a Retry-After value: seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil {
		// capped before multiplying: a huge value would overflow to a
		// negative wait, an immediate retry
		return time.Duration(min(max(secs, 0), int(maxRetryAfter/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

type callInfoKey struct{}

// callInfo carries what go-openai drops from an error response (the
// Retry-After header) from the transport back to the retry loop. One per
// attempt, written by the transport in the attempt's own goroutine.
type callInfo struct {
	retryAfter  string
	contentType string // of a successful answer
	head        *headRecorder
	onBytes     func() // called as the answer's bytes arrive
}

// headRecorder keeps the first bytes of a successful answer's body: when
// no event comes of it, they say what came instead (a web page, a proxy's
// notice).
type headRecorder struct {
	io.ReadCloser
	onBytes func()
	mu      sync.Mutex
	head    []byte
	whole   bool // the body began as JSON
}

// headKept is what a body's start keeps; wholeKept, of a body that begins
// as JSON: a whole chat.completion, which the server sent ignoring
// stream=true, is kept to bill its usage.
const (
	headKept  = 200
	wholeKept = 1 << 20
)

func (h *headRecorder) Read(p []byte) (int, error) {
	n, err := h.ReadCloser.Read(p)
	if n > 0 && h.onBytes != nil {
		h.onBytes()
	}
	h.mu.Lock()
	if len(h.head) == 0 && n > 0 {
		h.whole = bytes.HasPrefix(bytes.TrimLeft(p[:n], " \t\r\n"), []byte("{"))
	}
	limit := headKept
	if h.whole {
		limit = wholeKept
	}
	if rest := limit - len(h.head); rest > 0 {
		h.head = append(h.head, p[:min(n, rest)]...)
	}
	h.mu.Unlock()
	return n, err
}

// completionUsage is the usage of a whole chat.completion the body was.
func (h *headRecorder) completionUsage() *openai.Usage {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var whole openai.ChatCompletionResponse
	if json.Unmarshal(bytes.TrimSpace(h.head), &whole) != nil || whole.Usage.PromptTokens+whole.Usage.CompletionTokens == 0 {
		return nil
	}
	return &whole.Usage
}

// began is the start of the body, or "" when it began as an event stream.
func (h *headRecorder) began() string {
	if h == nil {
		return ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	first := strings.TrimSpace(string(h.head))
	for _, sse := range []string{"data:", "event:", "id:", "retry:", ":"} {
		if strings.HasPrefix(first, sse) {
			return ""
		}
	}
	return first
}

// captureTransport records error responses' Retry-After into the request's
// callInfo, and buffers error bodies: go-openai reads them but never closes
// them.
type captureTransport struct{ base http.RoundTripper }

func (t *captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	info, _ := req.Context().Value(callInfoKey{}).(*callInfo)
	if resp.StatusCode < 400 {
		if info != nil {
			info.contentType = resp.Header.Get("Content-Type")
			info.head = &headRecorder{ReadCloser: resp.Body, onBytes: info.onBytes}
			resp.Body = info.head
		}
		return resp, nil
	}
	if info != nil {
		info.retryAfter = resp.Header.Get("Retry-After")
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}
