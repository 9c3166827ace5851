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
		if m := r.short(msg); m != "" && m != http.StatusText(status) {
			f.reason += ": " + m
		}
	}
	if status == http.StatusNotFound && !strings.Contains(strings.ToLower(msg), "model") {
		// no such path, not no such model
		f.reason += " (is base_url its API, often ending in /v1?)"
	}
	return f
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
}

// headRecorder keeps the first bytes of a successful answer's body: when
// no event comes of it, they say what came instead (a web page, a proxy's
// notice).
type headRecorder struct {
	io.ReadCloser
	mu   sync.Mutex
	head []byte
}

func (h *headRecorder) Read(p []byte) (int, error) {
	n, err := h.ReadCloser.Read(p)
	h.mu.Lock()
	if rest := 200 - len(h.head); rest > 0 {
		h.head = append(h.head, p[:min(n, rest)]...)
	}
	h.mu.Unlock()
	return n, err
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
			info.head = &headRecorder{ReadCloser: resp.Body}
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
