package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sashabaranov/go-openai"

	"agent-tui/engine/config"
	"agent-tui/engine/llm"
	"agent-tui/engine/tools"
	"agent-tui/store"
)

// maxToolRounds bounds a session that never stops calling tools.
const maxToolRounds = 60

// maxSameCalls bounds a session that repeats the very same calls.
const maxSameCalls = 5

// toolResultKept caps a tool result in the stored history; the model saw it whole.
const toolResultKept = 8 << 10

// recordedResult is a tool result as the attempt records it, within
// toolResultKept: a command's keeps its exit code and says how much of
// its output is kept; another's keeps its end, said to be cut.
func recordedResult(tool, result string) string {
	if len(result) <= toolResultKept {
		return result
	}
	if tool == "run_command" {
		return cutCommand(result, toolResultKept, "in the record")
	}
	tail := fromRuneStart(tailBytes(result, toolResultKept-80)) // (room for the mark)
	return fmt.Sprintf("[… the first %d bytes not kept in the record …]\n", len(result)-len(tail)) + tail
}

// streamSaveEvery spaces the saves of a call still streaming: a crash
// then loses at most this much of what it streamed and cost, and a fast
// stream costs one commit per interval, not per token.
var streamSaveEvery = 2 * time.Second

// toolCutOff is the result of a tool call the attempt was cut off during
// (or before): it is saved before the call runs, as toolRunning.
const (
	toolRunning = "(running)"
	toolCutOff  = "(no result: the attempt was cut off before this call finished)"
)

// session is one phase attempt's conversation with its model.
type session struct {
	e      *Engine
	t      *store.Ticket
	a      *store.Attempt
	stream strings.Builder
	msgs   []openai.ChatCompletionMessage
	defs   []openai.Tool // sent with every call of the session
	box    *tools.Box
	// savedAt is when the attempt was last saved; call is the model call
	// under way, for what a save mid-stream says it cost so far
	savedAt time.Time
	call    inflight
}

// inflight is what a model call still streaming has sent.
type inflight struct {
	model, provider string
	text            strings.Builder // its text and tool names
}

func (e *Engine) newSession(t *store.Ticket, a *store.Attempt) *session {
	return &session{e: e, t: t, a: a, savedAt: time.Now()} // (just saved by beginAttempt)
}

// chain is the phase's model chain, with a human's override first.
func (e *Engine) chain(phase, override string) []string {
	models := e.cfg.Phase(phase).Models
	if override == "" {
		return models
	}
	out := []string{override}
	for _, m := range models {
		if m != override {
			out = append(out, m)
		}
	}
	return out
}

func (s *session) emit(text string) {
	s.stream.WriteString(text)
	s.e.broker.delta(s.t.ID, s.a.Seq, text)
}

// checkpoint commits what the attempt has so far: a meaningful state
// change (a tool call), never a token.
func (s *session) checkpoint() {
	s.a.Stream = s.stream.String()
	if err := s.e.st.PutAttempt(s.t.ID, s.a); err != nil {
		s.e.log.Warn("checkpoint", "ticket", s.t.ID, "err", err)
	}
	s.savedAt = time.Now()
	s.e.publishAttempt(s.t.ID, s.a)
}

// saveStreaming saves the attempt while a call streams, with what the call
// has cost so far, estimated, as a stop would record it (a wasted call):
// after a crash that is what was paid for. The attempt in memory is left
// as it is; the call's own usage replaces the estimate when it ends.
func (s *session) saveStreaming() {
	cp := *s.a
	cp.Stream = s.stream.String()
	if c := &s.call; c.text.Len() > 0 {
		m, _, _ := s.e.cfg.Model(c.model)
		m.Name = c.model // (priced at nothing if the config lost it)
		u := llm.EstimatedUsage(m, c.provider, s.msgs, s.defs, c.text.String())
		cp.TokensIn += u.TokensIn
		cp.TokensOut += u.TokensOut
		cp.TokensEstimated = true
		cp.CostUSD += u.CostUSD
		cp.Wasted = append(slices.Clip(cp.Wasted), spendOf(u))
	}
	if err := s.e.st.PutAttempt(s.t.ID, &cp); err != nil {
		s.e.log.Warn("save while streaming", "ticket", s.t.ID, "err", err)
	}
	s.savedAt = time.Now()
}

// cutOffToolCalls gives the calls saved as running, which never ended, the
// result that says so; inStream: the stream saved does not show them yet
// (a crash's: it was saved before they ran).
func cutOffToolCalls(a *store.Attempt, inStream bool) {
	for i := range a.ToolCalls {
		tc := &a.ToolCalls[i]
		if tc.Result != toolRunning || !tc.IsErr {
			continue
		}
		tc.Result = toolCutOff
		if !inStream {
			a.Stream += "\n" + callLine(tc.Name, tc.Args) + "← " + toolCutOff + "\n"
		}
	}
}

// callLine is a tool call as the stream shows it.
func callLine(name, args string) string {
	return "→ " + name + " " + OneLine(args, 200) + "\n"
}

func (s *session) record(resp *llm.Response) {
	s.a.Model, s.a.Provider = resp.Model, resp.Provider
	s.a.Fallbacks = addFallbacks(s.a.Fallbacks, resp.Fallbacks)
	if len(resp.Fallbacks) > 0 {
		s.e.broker.publish(Event{Type: EvHealth, TicketID: s.t.ID}) // a provider failed
	}
	u := servedUsage(resp)
	s.spend(u)
	s.a.Served = addServed(s.a.Served, u)
}

// servedUsage is what a complete call cost, and whose it was.
func servedUsage(resp *llm.Response) llm.Usage {
	return llm.Usage{Model: resp.Model, Provider: resp.Provider, TokensIn: resp.TokensIn, TokensOut: resp.TokensOut, Estimated: resp.Estimated, CostUSD: resp.CostUSD}
}

// addServed adds a complete call's cost to its model's entry.
func addServed(to []store.Spend, u llm.Usage) []store.Spend {
	for i := range to {
		if e := &to[i]; e.Model == u.Model && e.Provider == u.Provider {
			e.Add(spendOf(u))
			return to
		}
	}
	return append(to, spendOf(u))
}

// addFallbacks adds the models a call tried and left; a model skipped for
// the same reason on every call of the session is said once.
func addFallbacks(to []store.Fallback, from []llm.Fallback) []store.Fallback {
	for _, f := range from {
		if fb := store.Fallback(f); !slices.Contains(to, fb) {
			to = append(to, fb)
		}
	}
	return to
}

// triedAll keeps the models of a call that every model failed: the attempt
// has no model that served it, and this is what says what was tried.
func triedAll(to []store.Fallback, err error) []store.Fallback {
	var af *llm.AllFailedError
	if errors.As(err, &af) {
		return addFallbacks(to, af.Tried)
	}
	return to
}

// waiting tells the stream and the log that a call that failed in passing
// (a 429; a 5xx, a cut or a stall with no other model) waits to be tried
// again.
func (s *session) waiting(model string, wait time.Duration, reason string) {
	s.emit(fmt.Sprintf("\n[%s: %s; trying again in %s]\n", model, reason, roundWait(wait)))
	s.e.log.Info("waiting to try the model again", "ticket", s.t.ID, "model", model, "wait", roundWait(wait).String(), "reason", reason)
}

// wasted adds a call that gave nothing usable, and keeps whose it was.
func (s *session) wasted(u llm.Usage) {
	s.spend(u)
	s.a.Wasted = append(s.a.Wasted, spendOf(u))
}

// addValidatorUsage is spend for the validator's record.
func addValidatorUsage(v *store.Validator, u llm.Usage) {
	v.TokensIn += u.TokensIn
	v.TokensOut += u.TokensOut
	v.Estimated = v.Estimated || u.Estimated
	v.CostUSD += u.CostUSD
}

func spendOf(u llm.Usage) store.Spend {
	return store.Spend{Model: u.Model, Provider: u.Provider, TokensIn: u.TokensIn, TokensOut: u.TokensOut, Estimated: u.Estimated, CostUSD: u.CostUSD}
}

// spend adds a call's tokens and cost to the attempt, whether or not the
// call gave a usable answer.
func (s *session) spend(u llm.Usage) {
	s.a.TokensIn += u.TokensIn
	s.a.TokensOut += u.TokensOut
	s.a.TokensEstimated = s.a.TokensEstimated || u.Estimated
	s.a.CostUSD += u.CostUSD
}

// run holds the conversation until the model answers without tool calls.
func (s *session) run(ctx context.Context, ps *store.PhaseState, in *phaseInput) error {
	defer func() { s.a.Stream = s.stream.String() }()
	defs := toolDefinitions(in.box)
	if in.box != nil {
		s.box = in.box
		defer in.box.Close()
	}
	s.defs = defs
	s.msgs = []openai.ChatCompletionMessage{
		{Role: openai.ChatMessageRoleSystem, Content: in.system},
		{Role: openai.ChatMessageRoleUser, Content: in.user},
	}
	models := s.e.chain(ps.Name, ps.Model)
	budget := leftOf(s.e.cfg.Phase(ps.Name).ContextTokens, llm.EstimateTools(defs))
	lastCalls, repeats := "", 0
	for round := 0; round < maxToolRounds; round++ {
		if over := s.e.spentOverWith(s.t, s.a.NotCounted()); over != "" && round > 0 {
			// a session of many calls must not spend many times the limit
			return &humanStop{over + ", within a " + ps.Name + " attempt: retry to go on (it starts again), or raise max_cost_usd"}
		}
		// tool results count toward the phase's budget too
		s.a.Trimmed = append(s.a.Trimmed, fitToolResults(s.msgs, budget)...)
		if round > 0 {
			// the attempt's context is its largest call's, not its first's
			s.a.ContextTokens = max(s.a.ContextTokens, llm.EstimateMessages(s.msgs)+llm.EstimateTools(defs))
		}
		resp, err := s.complete(ctx, ps.Name, models, defs)
		if err != nil {
			return err
		}
		if len(resp.ToolCalls) == 0 {
			s.a.Deliverable = strings.TrimSpace(resp.Content)
			return nil
		}
		// a model stuck making the same calls would spend every round on them
		var sig strings.Builder
		for _, tc := range resp.ToolCalls {
			sig.WriteString(tc.Function.Name + "\x00" + tc.Function.Arguments + "\x00")
		}
		if sig.String() == lastCalls {
			repeats++
		} else {
			lastCalls, repeats = sig.String(), 1
		}
		if repeats > maxSameCalls {
			return fmt.Errorf("the model made the same tool calls %d times in a row (%s): stopped", repeats, resp.ToolCalls[0].Function.Name)
		}
		s.msgs = append(s.msgs, openai.ChatCompletionMessage{
			Role: openai.ChatMessageRoleAssistant, Content: resp.Content, ToolCalls: wellFormed(resp.ToolCalls),
		})
		// the answer is saved before each command runs, with the results
		// of the calls before it: a crash during a long one (a build, a
		// sleep) loses neither what the answer cost, nor which call was
		// running, nor what a file written before it said. Files are read
		// and written in milliseconds, and saved with their results (one
		// commit, not two per round: the engine's own cost on every turn)
		first := len(s.a.ToolCalls)
		for _, tc := range resp.ToolCalls {
			s.a.ToolCalls = append(s.a.ToolCalls, store.ToolCall{
				ID: tc.ID, Name: tc.Function.Name, Args: tailBytes(tc.Function.Arguments, toolResultKept),
				Result: toolRunning, IsErr: true,
			})
		}
		for i, tc := range resp.ToolCalls {
			var result string
			var isErr bool
			if tc.Function.Name == "run_command" {
				s.checkpoint()
			}
			s.emit("\n" + callLine(tc.Function.Name, tc.Function.Arguments))
			if s.box == nil {
				result, isErr = "error: this phase has no tools", true
			} else {
				result, isErr = s.box.Call(ctx, tc.Function.Name, tc.Function.Arguments)
			}
			if ctx.Err() != nil {
				s.emit("← " + toolCutOff + "\n")
				// the calls after it never started: the stream names them
				// too, as the tool calls do
				for _, rest := range resp.ToolCalls[i+1:] {
					s.emit(callLine(rest.Function.Name, rest.Function.Arguments) + "← " + toolCutOff + "\n")
				}
				return ctx.Err() // (endAttempt gives the calls left their result)
			}
			s.emit("← " + OneLine(result, 200) + "\n")
			s.a.ToolCalls[first+i].Result, s.a.ToolCalls[first+i].IsErr = recordedResult(tc.Function.Name, result), isErr
			s.msgs = append(s.msgs, openai.ChatCompletionMessage{
				Role: openai.ChatMessageRoleTool, ToolCallID: tc.ID, Name: tc.Function.Name, Content: result,
			})
		}
		s.checkpoint()
	}
	return fmt.Errorf("no final answer after %d rounds of tool calls", maxToolRounds)
}

func (s *session) complete(ctx context.Context, phase string, models []string, defs []openai.Tool) (*llm.Response, error) {
	s.call = inflight{}
	resp, err := s.e.router.Complete(ctx, llm.Request{
		Phase: phase, Models: models, Sensitive: s.t.Sensitive, Messages: s.msgs, Tools: defs,
		OnDelta: func(d llm.Delta) {
			if d.Model != "" && (d.Model != s.a.Model || d.Provider != s.a.Provider) {
				// the UI names the model while it streams, not only after;
				// with the stream so far, which the cost so far (a call
				// cut off before a fallback) has paid for
				s.a.Model, s.a.Provider = d.Model, d.Provider
				s.a.Stream = s.stream.String()
				s.e.publishAttempt(s.t.ID, s.a)
			}
			if d.Restart || d.Model != s.call.model || d.Provider != s.call.provider {
				// a call that failed was counted through OnWasted
				s.call.text.Reset()
				s.call.model, s.call.provider = d.Model, d.Provider
			}
			switch {
			case d.Restart:
				s.emit("\n[stream restarted: " + d.Reason + "]\n")
			case d.ToolCall != "":
				s.call.text.WriteString(d.ToolCall)
			default:
				s.call.text.WriteString(d.Text)
				s.emit(d.Text)
			}
			if !d.Restart && time.Since(s.savedAt) >= streamSaveEvery {
				s.saveStreaming()
			}
		},
		OnWasted: s.wasted,
		OnWait:   s.waiting,
	})
	if err != nil {
		s.a.Fallbacks = triedAll(s.a.Fallbacks, err)
		var af *llm.AllFailedError
		if errors.As(err, &af) && len(s.a.Served) == 0 {
			// a model that streamed part of an answer before failing did
			// not serve the attempt (its cost is under wasted)
			s.a.Model, s.a.Provider = "", ""
		}
		return nil, err
	}
	s.record(resp)
	if len(resp.ToolCalls) > 0 && resp.Content != "" && !strings.HasSuffix(resp.Content, "\n") {
		s.emit("\n")
	}
	return resp, nil
}

// ask continues the conversation with one more user message and no tools
// (an unreadable verdict asked again).
func (s *session) ask(ctx context.Context, phase string, text string) (string, error) {
	s.msgs = append(s.msgs,
		openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: s.a.Deliverable},
		openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, Content: text})
	s.emit("\n")
	s.a.Trimmed = append(s.a.Trimmed, fitToolResults(s.msgs, s.e.cfg.Phase(phase).ContextTokens)...)
	s.defs = nil // (this call sends none)
	resp, err := s.complete(ctx, phase, s.e.chain(phase, phaseState(s.t, phase).Model), nil)
	if err != nil {
		return "", err
	}
	s.a.Deliverable = strings.TrimSpace(resp.Content)
	return s.a.Deliverable, nil
}

// validate runs the validator session on the deliverable against its
// source of truth. An unreadable answer is asked again, up to three times.
func (e *Engine) validate(ctx context.Context, t *store.Ticket, s *session, phase, deliverable, sourceName, source string) (Verdict, error) {
	a := s.a
	sys, err := e.prompts.Render("validator", e.promptData(t, phase, nil))
	if err != nil {
		if a.Validator == nil {
			a.Validator = &store.Validator{} // (not asked: a retry judges the answer)
		}
		// not the phase's failure: another attempt would be paid for to
		// meet the same error
		return Verdict{}, &humanStop{promptStop("validator", phase, err)}
	}
	budget := e.cfg.Phase(config.Validator).ContextTokens
	secs := []section{
		{title: "Deliverable of phase " + phase, body: deliverable, prio: prioPrimary, vital: true},
		{title: "Source of truth: " + sourceName, body: source, prio: prioCriteria, vital: true},
	}
	sizes := []int{llm.EstimateTokens(deliverable), llm.EstimateTokens(source)}
	header := fmt.Sprintf("Phase: validator of %s · Ticket %s (%s): %s", phase, t.ID, t.Kind, t.Title)
	room, err := roomFor(config.Validator, budget, instructionTokens(sys), header)
	if err != nil {
		if a.Validator == nil {
			a.Validator = &store.Validator{} // (not asked: a retry judges the answer)
		}
		return Verdict{}, &humanStop{err.Error()}
	}
	user, _, trimmed := assemble(header, secs, room)
	v := &store.Validator{Trimmed: trimmed}
	if old := a.Validator; old != nil {
		// judged again (after a restart, a retry): what the earlier
		// judging was billed stays the attempt's
		v.TokensIn, v.TokensOut, v.CostUSD, v.Estimated = old.TokensIn, old.TokensOut, old.CostUSD, old.Estimated
		v.Served, v.Wasted = old.Served, old.Wasted
	}
	a.Validator = v
	for i, sec := range secs {
		// a verdict on a document the validator never saw passes anything
		if kept := keptOf(sec); sec.vital && (sec.dropped || kept < min(sizes[i], vitalFloor)) {
			small := &budgetTooSmall{phase: config.Validator, budget: budget, what: sec.title, tokens: sizes[i], kept: kept}
			return Verdict{}, &humanStop{small.Error()}
		}
	}
	msgs := []openai.ChatCompletionMessage{
		{Role: openai.ChatMessageRoleSystem, Content: sys},
		{Role: openai.ChatMessageRoleUser, Content: user},
	}
	// the validator's answer is part of the attempt's stream, live and stored
	s.emit("\n── validator ──\n")
	models := e.cfg.Phase(config.Validator).Models
	fresh := slices.Clone(msgs)
	for try := 1; ; try++ {
		resp, err := e.router.Complete(ctx, llm.Request{
			Phase: config.Validator, Models: models, Sensitive: t.Sensitive, Messages: msgs,
			OnDelta: func(d llm.Delta) {
				if d.Text != "" {
					s.emit(d.Text)
				}
			},
			OnWasted: func(u llm.Usage) {
				addValidatorUsage(v, u)
				v.Wasted = append(v.Wasted, spendOf(u))
			},
			OnWait: s.waiting,
		})
		if err != nil {
			v.Fallbacks = triedAll(v.Fallbacks, err)
			return Verdict{}, err
		}
		v.Model, v.Provider = resp.Model, resp.Provider
		v.Fallbacks = addFallbacks(v.Fallbacks, resp.Fallbacks)
		u := servedUsage(resp)
		addValidatorUsage(v, u)
		v.Served = addServed(v.Served, u)
		v.Raw = resp.Content
		verdict, perr := ParseVerdictBy(resp.Content, config.Validator)
		if perr == nil {
			return verdict, nil
		}
		v.Unreadable++
		if try >= 3 {
			// the attempt fails with that error, as SPEC has it (a person
			// stopped with such a fail can have the answer judged again by
			// a plain retry: see savedUnjudged)
			return Verdict{}, fmt.Errorf("the validator's answer could not be read %d times (%v)", try, perr)
		}
		if next := modelsAfter(models, resp.Model); try == 2 && next[0] != models[0] {
			// told once and still unreadable: the last try goes to the
			// chain's next model, asked afresh
			models, msgs = next, slices.Clone(fresh)
			s.emit(fmt.Sprintf("\n[the validator's answer could not be read twice: asking %s]\n", next[0]))
			continue
		}
		s.emit(fmt.Sprintf("\n[the validator's answer could not be read (%v): asked again]\n", perr))
		msgs = append(msgs,
			openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: resp.Content},
			openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, Content: "Your answer could not be read (" + perr.Error() + `). Answer with ONLY the JSON object {"pass": true|false, "objections": ["..."]}.`})
	}
}

// modelsAfter is the chain from the model after m on, the models before it
// last (m itself last of all); the chain as it is when m is not in it.
func modelsAfter(chain []string, m string) []string {
	i := slices.Index(chain, m)
	if i < 0 || len(chain) < 2 {
		return chain
	}
	return append(slices.Clone(chain[i+1:]), chain[:i+1]...)
}

// wellFormed is the calls as they go back into the conversation: a strict
// provider refuses a call with no name or with arguments that are not
// JSON, and would end the session for the model's slip (the tool result
// already tells the model what was wrong).
func wellFormed(calls []openai.ToolCall) []openai.ToolCall {
	out := slices.Clone(calls)
	for i := range out {
		f := &out[i].Function
		if f.Name == "" {
			f.Name = "unnamed_tool"
		}
		if !json.Valid([]byte(f.Arguments)) {
			f.Arguments = "{}"
		}
	}
	return out
}

// roundWait shows a wait as people read it: whole seconds, or
// milliseconds under a second (a 300ms backoff is not "0s").
func roundWait(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

// toolDefinitions are box's tools as the model client sends them; none
// without a box.
func toolDefinitions(box *tools.Box) []openai.Tool {
	if box == nil {
		return nil
	}
	var defs []openai.Tool
	for _, d := range box.Definitions() {
		defs = append(defs, openai.Tool{
			Type:     openai.ToolTypeFunction,
			Function: &openai.FunctionDefinition{Name: d.Name, Description: d.Description, Parameters: d.Parameters},
		})
	}
	return defs
}
