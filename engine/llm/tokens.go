package llm

import (
	"encoding/json"

	openai "github.com/sashabaranov/go-openai"
)

// EstimateTokens guesses a token count at about four bytes a token, at
// least one for non-empty text. Used only where a provider reports no usage.
func EstimateTokens(s string) int {
	if s == "" {
		return 0
	}
	return (len(s) + 3) / 4
}

// perMessageTokens approximates the role and framing tokens of a message,
// and perCallTokens those of a tool call (its type and the name's frame).
const (
	perMessageTokens = 4
	perCallTokens    = 4
)

// EstimateMessages guesses the prompt tokens of a conversation.
func EstimateMessages(msgs []openai.ChatCompletionMessage) int {
	n := 0
	for _, m := range msgs {
		n += perMessageTokens + EstimateTokens(m.Content) + EstimateTokens(m.Name) + EstimateTokens(m.ToolCallID)
		for _, p := range m.MultiContent {
			n += EstimateTokens(p.Text)
		}
		for _, tc := range m.ToolCalls {
			n += perCallTokens + EstimateTokens(tc.ID) + EstimateTokens(tc.Function.Name) + EstimateTokens(tc.Function.Arguments)
		}
	}
	return n
}

// EstimateTools guesses the prompt tokens of tool definitions, which a
// provider counts with the input.
func EstimateTools(defs []openai.Tool) int {
	if len(defs) == 0 {
		return 0
	}
	data, err := json.Marshal(defs)
	if err != nil {
		return 0
	}
	return EstimateTokens(string(data))
}
