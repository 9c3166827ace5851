// Package llm routes chat completions to the configured models: each phase
// names a chain of models, the first serves and the rest are fallbacks. The
// router is the only retry loop (go-openai does not retry), it streams
// always, keeps an idle watchdog on every stream, cools down failing
// providers, and never sends a sensitive request to a non-local provider.
package llm

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"agent-tui/engine/config"
)

const (
	// maxRetryAfter bounds a server's Retry-After: a ticket should rather
	// fall back than sleep for an hour.
	maxRetryAfter = 60 * time.Second
	// failuresBeforeCooldown failures in a row put a provider in cooldown.
	failuresBeforeCooldown = 3
	// longWait: a rate limit asking for longer than this is not waited out
	// when another model can answer; its provider rests that long instead.
	longWait = 10 * time.Second
)

// Options are the router's dependencies; zero values mean the real thing.
type Options struct {
	Getenv     func(string) string // default os.Getenv; API keys are read through it
	HTTPClient *http.Client        // base client; its Transport is wrapped, not modified
	Now        func() time.Time    // default time.Now
}

// Router sends completions to the configured models. It is safe for
// concurrent use.
type Router struct {
	cfg     *config.Config
	now     func() time.Time
	clients map[string]*openai.Client // by provider name
	secrets []string                  // API key values, scrubbed from every error text
	// unusable: providers that cannot be called, and why (a key variable
	// named but not set would only earn a 401 per call)
	unusable map[string]string
	keyless  []string // local providers called without the key they name

	retries     int
	backoff     time.Duration
	idleTimeout time.Duration
	reqTimeout  time.Duration
	cooldown    time.Duration

	mu     sync.Mutex
	health map[string]*providerState
	// onRecovery hears of a provider answering again after failures
	onRecovery func()
}

// OnRecovery sets what to call when a provider that had failed answers
// again: a status line that said cooling must not wait for its next poll.
func (r *Router) OnRecovery(fn func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onRecovery = fn
}

type providerState struct {
	failures     int
	coolingUntil time.Time
	lastError    string
	// keyRefused: the provider answered 401 to its key, which no retry and
	// no later call can change while this process runs
	keyRefused string
}

// NewRouter builds one client per provider of cfg. API keys are read now,
// and the providers no call can go to are marked on cfg (cfg.Skipped: the
// phases on default tiers take callable models); cfg must not change
// afterwards.
func NewRouter(cfg *config.Config, opts Options) *Router {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	base := opts.HTTPClient
	if base == nil {
		base = &http.Client{}
	}
	hc := *base
	rt := hc.Transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// every ticket running at once calls the same few hosts; the
		// default keeps 2 idle connections per host, so the rest would
		// dial (and shake hands over TLS) again for every call
		t.MaxIdleConnsPerHost = max(32, 4*cfg.MaxParallel)
		t.MaxIdleConns = max(t.MaxIdleConns, 2*t.MaxIdleConnsPerHost)
		rt = t
	}
	hc.Transport = &captureTransport{base: rt}

	r := &Router{
		cfg:         cfg,
		now:         opts.Now,
		clients:     make(map[string]*openai.Client),
		unusable:    make(map[string]string),
		health:      make(map[string]*providerState),
		retries:     cfg.Retries,
		backoff:     cfg.RetryBackoff.Duration,
		idleTimeout: cfg.StreamIdleTimeout.Duration,
		reqTimeout:  cfg.RequestTimeout.Duration,
		cooldown:    cfg.ProviderCooldown.Duration,
	}
	// Zero means unset, as for a Config built in code; a negative Retries
	// means no retries.
	if r.retries == 0 {
		r.retries = config.DefaultRetries
	}
	r.retries = max(r.retries, 0)
	if r.backoff <= 0 {
		r.backoff = config.DefaultRetryBackoff
	}
	if r.idleTimeout <= 0 {
		r.idleTimeout = config.DefaultStreamIdleTimeout
	}
	if r.reqTimeout <= 0 {
		r.reqTimeout = config.DefaultRequestTimeout
	}
	if r.cooldown <= 0 {
		r.cooldown = config.DefaultProviderCooldown
	}
	for _, p := range cfg.Providers {
		key := ""
		if p.APIKeyEnv != "" {
			key = opts.Getenv(p.APIKeyEnv)
		}
		switch {
		case key != "":
			r.secrets = append(r.secrets, key)
		case p.APIKeyEnv != "" && p.Local:
			// many local servers take no key: it is tried without one
			r.keyless = append(r.keyless, "provider "+p.Name+": its key variable "+p.APIKeyEnv+" is not set; calls go without a key")
		default:
			if why := Unusable(p, opts.Getenv); why != "" {
				r.unusable[p.Name] = why
				if cfg.Skipped == nil {
					cfg.Skipped = map[string]bool{}
				}
				cfg.Skipped[p.Name] = true
			}
		}
		cc := openai.DefaultConfig(key)
		if p.BaseURL != "" {
			cc.BaseURL = p.BaseURL
		}
		cc.HTTPClient = &hc
		r.clients[p.Name] = openai.NewClientWithConfig(cc)
		r.health[p.Name] = &providerState{}
	}
	return r
}

// Warnings lists, in config order, what is wrong with the providers'
// keys: those no call goes to, and local ones called without their key.
func (r *Router) Warnings() []string {
	var out []string
	for _, p := range r.cfg.Providers {
		if why := r.unusable[p.Name]; why != "" {
			out = append(out, "provider "+p.Name+": "+why+"; its models are skipped")
		}
	}
	return append(out, r.keyless...)
}

// Request is one completion: the model chain and the conversation.
type Request struct {
	Phase     string
	Models    []string // config model names, first serves; empty: cfg.Phase(Phase).Models
	Sensitive bool     // only providers with Local=true may be used
	Messages  []openai.ChatCompletionMessage
	Tools     []openai.Tool
	OnDelta   func(Delta) // streamed pieces, called from the goroutine that called Complete
	// OnWasted is told of each call a model answered in part but that gave
	// no usable response (a stream cut off, an answer cut at the length
	// limit, a cancellation mid-answer): providers bill those tokens too.
	// Called from the goroutine that called Complete, before it returns.
	OnWasted func(Usage)
	// OnWait is told before each wait to retry a rate-limited call, so a
	// long Retry-After is not silence. Called from Complete's goroutine.
	OnWait func(model string, wait time.Duration, reason string)
}

// Usage is what one call consumed; Estimated when the provider sent no
// usage and the tokens are guessed from the text.
type Usage struct {
	Model, Provider     string
	TokensIn, TokensOut int
	Estimated           bool
	CostUSD             float64
}

// Delta is a streamed piece of the answer.
type Delta struct {
	Text     string // content piece
	ToolCall string // name of a tool call that just started
	// Restart: the stream failed mid-way, everything streamed before is void.
	Restart bool
	Reason  string
	// the model streaming it (a fallback may take over from the first)
	Model, Provider string
}

// Fallback is a model that was tried (or skipped) and why it was left.
type Fallback struct{ Model, Provider, Reason string }

// Response is the assembled answer.
type Response struct {
	Content      string
	ToolCalls    []openai.ToolCall
	FinishReason string

	Model, Provider string // config names of what served
	Fallbacks       []Fallback

	TokensIn, TokensOut int
	Estimated           bool // the provider sent no usage; tokens are estimates
	CostUSD             float64
}

// NoLocalModelError: a sensitive request whose chain has no local model.
// Nothing was sent anywhere.
type NoLocalModelError struct{ Phase string }

func (e *NoLocalModelError) Error() string {
	return fmt.Sprintf("phase %q has no local model for a sensitive ticket; nothing was sent", e.Phase)
}

// AllFailedError: every model of the chain failed.
type AllFailedError struct {
	Phase string // whose chain: the validator's, for a validator call
	Tried []Fallback
}

func (e *AllFailedError) Error() string {
	switch e.Phase {
	case config.Validator:
		// an attempt's error: its own models did their part
		return "every model of the validator failed: " + e.Reasons()
	case "":
		return "all models failed: " + e.Reasons()
	}
	return "every model of " + e.Phase + " failed: " + e.Reasons()
}

// Reasons says why each model failed: "m (provider): why; m2 (p2): why",
// the provider named where the reason does not name it already.
func (e *AllFailedError) Reasons() string {
	parts := make([]string, len(e.Tried))
	for i, f := range e.Tried {
		who := f.Model
		if f.Provider != "" && !strings.Contains(f.Reason, "provider "+f.Provider) {
			who += " (" + f.Provider + ")"
		}
		parts[i] = who + ": " + f.Reason
	}
	return strings.Join(parts, "; ")
}

// ProviderHealth is a provider's recent record, for the UI.
type ProviderHealth struct {
	Name         string
	Failures     int       // failures in a row
	CoolingUntil time.Time // zero unless cooling down now
	LastError    string
	Unusable     string // why no call can go to it (a key variable not set)
	KeyRefused   string // why no call goes to it any more (it answered 401)
	Local        bool
	Simulated    bool
}

// Health reports every configured provider, in config order.
func (r *Router) Health() []ProviderHealth {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]ProviderHealth, 0, len(r.cfg.Providers))
	for _, p := range r.cfg.Providers {
		h := ProviderHealth{Name: p.Name, Local: p.Local, Simulated: p.Simulated, Unusable: r.unusable[p.Name]}
		if s := r.health[p.Name]; s != nil {
			h.Failures, h.LastError, h.KeyRefused = s.failures, s.lastError, s.keyRefused
			if now.Before(s.coolingUntil) {
				h.CoolingUntil = s.coolingUntil
			}
		}
		out = append(out, h)
	}
	return out
}

// Unusable says why no call can go to a provider ("" when one can): a
// cloud provider whose key variable is not set. A local one is called
// without a key.
func Unusable(p config.Provider, getenv func(string) string) string {
	if p.APIKeyEnv == "" || p.Local || p.Simulated || getenv(p.APIKeyEnv) != "" {
		return ""
	}
	return "its key variable " + p.APIKeyEnv + " is not set"
}

type candidate struct {
	model    config.Model
	provider config.Provider
	missing  string // why the model cannot be used, when it is not configured
}

// Complete sends req to the first model of its chain that answers. On
// cancellation of ctx it returns ctx.Err() at once.
func (r *Router) Complete(ctx context.Context, req Request) (*Response, error) {
	names := req.Models
	if len(names) == 0 {
		names = r.cfg.Phase(req.Phase).Models
	}
	var chain []candidate
	usable := 0
	for _, name := range names {
		m, p, ok := r.cfg.Model(name)
		switch {
		case req.Sensitive && (!ok || !p.Local):
			// Left out silently: a sensitive ticket never considers them.
		case !ok && m.Name != "":
			chain = append(chain, candidate{model: m, missing: fmt.Sprintf("provider %q not in config", m.Provider)})
		case !ok:
			chain = append(chain, candidate{model: config.Model{Name: name}, missing: "model not in config"})
		case r.unusable[p.Name] != "" || r.KeyRefused(p.Name) != "":
			why := r.unusable[p.Name]
			if why == "" {
				why = r.KeyRefused(p.Name)
			}
			chain = append(chain, candidate{model: m, provider: p, missing: "provider " + p.Name + ": " + why})
			usable++ // sensitive or not, the reason to give is the key
		default:
			chain = append(chain, candidate{model: m, provider: p})
			usable++
		}
	}
	if req.Sensitive && usable == 0 {
		return nil, &NoLocalModelError{Phase: req.Phase}
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("no models configured for phase %q", req.Phase)
	}

	var tried []Fallback
	for i, c := range chain {
		if c.missing != "" {
			tried = append(tried, Fallback{c.model.Name, c.model.Provider, c.missing})
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if why := r.KeyRefused(c.provider.Name); why != "" {
			// refused since the chain was made: by a model before this
			// one on the same provider, or another ticket's call
			tried = append(tried, Fallback{c.model.Name, c.provider.Name, "provider " + c.provider.Name + ": " + why})
			continue
		}
		if r.cooling(c.provider.Name) && r.anyAvailable(chain[i+1:]) {
			tried = append(tried, Fallback{c.model.Name, c.provider.Name, "provider cooling down"})
			continue
		}
		resp, reason, ofRequest, err := r.tryModel(ctx, c, &req, r.anyAvailable(chain[i+1:]))
		if err != nil {
			return nil, err
		}
		if resp != nil {
			r.succeeded(c.provider.Name)
			resp.Fallbacks = tried
			return resp, nil
		}
		if !ofRequest {
			// one ticket's oversized request must not cool a provider
			// down for every ticket
			r.failed(c.provider.Name, reason)
		}
		tried = append(tried, Fallback{c.model.Name, c.provider.Name, reason})
	}
	return nil, &AllFailedError{Phase: req.Phase, Tried: tried}
}

// tryModel runs one model with its retries: of a 429 always, and of a
// passing failure (a 5xx, a connection cut, a stall) when there is no other
// model to fall back to, so that one bad gateway does not stop a ticket.
// It returns a response, or the reason to fall back, or ctx's error. With
// somewhere to fall back to, a long Retry-After is not slept through: the
// provider is left to rest.
func (r *Router) tryModel(ctx context.Context, c candidate, req *Request, canFallBack bool) (*Response, string, bool, error) {
	for n := 0; ; n++ {
		resp, f := r.attempt(ctx, c, req)
		if err := ctx.Err(); err != nil {
			return nil, "", false, err
		}
		if f == nil {
			return resp, "", false, nil
		}
		if f.status == http.StatusUnauthorized {
			// said as the later calls that skip it say it: an attempt
			// lists the model once
			r.refuseKey(c.provider, f.reason)
			f.reason = "provider " + c.provider.Name + ": " + r.KeyRefused(c.provider.Name)
		}
		passing := !f.ofRequest && !f.lasting && (f.status == 0 || f.status >= 500)
		if f.status != http.StatusTooManyRequests && (canFallBack || !passing) {
			// (a 404 is one model's: its id unknown there, and the
			// provider's other models may serve)
			return nil, f.reason, f.ofRequest || requestFault(f.status) || f.status == http.StatusNotFound, nil
		}
		if n >= r.retries {
			retries := "retries"
			if n == 1 {
				retries = "retry"
			}
			return nil, fmt.Sprintf("%s after %d %s", f.reason, n, retries), false, nil
		}
		wait := r.backoff << min(n, 16) // the shift cannot overflow
		if d, ok := parseRetryAfter(f.retryAfter, r.now()); ok {
			wait = d
		}
		wait = min(wait, maxRetryAfter) // a date form may ask for a day
		if canFallBack && wait > longWait {
			// every later call, of any ticket, skips it until then
			r.restUntil(c.provider.Name, r.now().Add(wait), f.reason)
			return nil, fmt.Sprintf("%s, asking to wait %s", f.reason, wait.Round(time.Second)), true, nil
		}
		if req.OnWait != nil {
			req.OnWait(c.model.Name, wait, f.reason)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, "", false, ctx.Err()
		case <-t.C:
		}
	}
}

// refuseKey records that provider refused its key: its models are skipped
// from now on, and tickets stop before calling them (Engine.Uncallable)
// instead of each spending an attempt on the same 401.
func (r *Router) refuseKey(p config.Provider, reason string) {
	why := "it refused the key"
	if p.APIKeyEnv != "" {
		why += " in " + p.APIKeyEnv
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.health[p.Name]; s != nil && s.keyRefused == "" {
		s.keyRefused = why + " (" + reason + ")"
	}
}

// KeyRefused says why provider's models cannot be called since it refused
// its key ("" when it has not).
func (r *Router) KeyRefused(provider string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.health[provider]; s != nil {
		return s.keyRefused
	}
	return ""
}

func (r *Router) cooling(provider string) bool {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.health[provider]
	return s != nil && now.Before(s.coolingUntil)
}

// anyAvailable reports whether some candidate is not cooling down, so that
// a cooling provider is tried anyway when it is all that is left.
func (r *Router) anyAvailable(cs []candidate) bool {
	for _, c := range cs {
		if c.missing == "" && !r.cooling(c.provider.Name) {
			return true
		}
	}
	return false
}

func (r *Router) failed(provider, reason string) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.state(provider)
	s.failures++
	s.lastError = reason
	if s.failures >= failuresBeforeCooldown {
		s.coolingUntil = now.Add(r.cooldown)
	}
}

// restUntil puts a provider in cooldown until t, at least, as its rate
// limit asked.
func (r *Router) restUntil(provider string, t time.Time, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.state(provider)
	s.lastError = reason
	if t.After(s.coolingUntil) {
		s.coolingUntil = t
	}
}

func (r *Router) succeeded(provider string) {
	r.mu.Lock()
	s := r.state(provider)
	recovered := s.failures > 0 || !s.coolingUntil.IsZero()
	s.failures = 0
	s.coolingUntil = time.Time{}
	notify := r.onRecovery
	r.mu.Unlock()
	if recovered && notify != nil {
		notify()
	}
}

// state returns a provider's record; r.mu must be held.
func (r *Router) state(provider string) *providerState {
	s := r.health[provider]
	if s == nil {
		s = &providerState{}
		r.health[provider] = s
	}
	return s
}

// scrub removes API key values from text that may reach logs or the UI:
// some providers echo the key they rejected. A short one (a local server's
// "x" or "none") goes only where it stands alone: inside words it would
// mask letters of every message.
func (r *Router) scrub(s string) string {
	for _, k := range r.secrets {
		if len(k) >= shortKey {
			s = strings.ReplaceAll(s, k, "***")
		} else {
			s = replaceWhole(s, k, "***")
		}
	}
	return s
}

const shortKey = 8

// keyPrefixAtEnd is how many bytes at the end of s could begin an API key
// (one long enough to be masked inside words) that the next piece ends.
func (r *Router) keyPrefixAtEnd(s string) int {
	most := 0
	for _, k := range r.secrets {
		if len(k) < shortKey {
			continue
		}
		for n := min(len(k)-1, len(s)); n > most; n-- {
			if strings.HasSuffix(s, k[:n]) {
				most = n
				break
			}
		}
	}
	return most
}

// replaceWhole replaces old in s where no letter or digit touches it.
func replaceWhole(s, old, new string) string {
	isWord := func(b byte) bool {
		return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= 0x80
	}
	var b strings.Builder
	last := 0
	for pos := 0; pos <= len(s); {
		i := strings.Index(s[pos:], old)
		if i < 0 {
			break
		}
		start, end := pos+i, pos+i+len(old)
		if (start == 0 || !isWord(s[start-1])) && (end == len(s) || !isWord(s[end])) {
			b.WriteString(s[last:start])
			b.WriteString(new)
			last, pos = end, end
		} else {
			pos = start + 1 // an overlapping match may start inside this one
		}
	}
	b.WriteString(s[last:])
	return b.String()
}
