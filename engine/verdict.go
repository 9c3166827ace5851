package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"agent-tui/engine/config"
)

// Verdict is the validator's or reviewer's answer.
type Verdict struct {
	Pass       bool     `json:"pass"`
	Objections []string `json:"objections"`
}

// ParseVerdict reads a review's {"pass", "objections"} from a model
// answer, accepting code fences and surrounding prose.
func ParseVerdict(text string) (Verdict, error) { return ParseVerdictBy(text, config.Review) }

// ParseVerdictBy is ParseVerdict for the answer of judge (config.Review, or
// config.Validator): a fail that gives no reason is said to be its own, as
// the phase it goes back to reads it.
func ParseVerdictBy(text, judge string) (Verdict, error) {
	var raw struct {
		Pass       *bool           `json:"pass"`
		Objections json.RawMessage `json:"objections"`
	}
	if err := decodeObject(text, "pass", &raw); err != nil {
		return Verdict{}, err
	}
	if raw.Pass == nil {
		return Verdict{}, errors.New(`no "pass" field`)
	}
	v := Verdict{Pass: *raw.Pass}
	if len(raw.Objections) > 0 && string(raw.Objections) != "null" {
		var list []string
		if err := json.Unmarshal(raw.Objections, &list); err != nil {
			var one string
			if json.Unmarshal(raw.Objections, &one) != nil {
				return Verdict{}, errors.New(`"objections" is not a list of strings`)
			}
			list = []string{one}
		}
		for _, o := range list {
			if o = strings.TrimSpace(o); o != "" {
				v.Objections = append(v.Objections, o)
			}
		}
	}
	if !v.Pass && len(v.Objections) == 0 {
		why := "the validator failed the deliverable without saying why"
		if judge == config.Review {
			why = "the review failed the code without saying why"
		}
		v.Objections = []string{why}
	}
	return v, nil
}

// SplitTicket is one child of an epic.
type SplitTicket struct {
	Kind  string `json:"kind"`
	Title string `json:"title"`
	Body  string `json:"body"`
}

// MaxSplitTickets bounds the children one split makes.
const MaxSplitTickets = 20

// ParseSplit reads {"tickets": [...]} from a model answer.
func ParseSplit(text string) ([]SplitTicket, error) {
	var raw struct {
		Tickets []SplitTicket `json:"tickets"`
	}
	if err := decodeObject(text, "tickets", &raw); err != nil {
		return nil, err
	}
	if len(raw.Tickets) == 0 {
		return nil, errors.New("the split has no tickets")
	}
	if len(raw.Tickets) > MaxSplitTickets {
		// each child pays for a whole route: a runaway list is not a plan
		return nil, fmt.Errorf("the split makes %d tickets, more than %d: group the work into fewer, larger tickets", len(raw.Tickets), MaxSplitTickets)
	}
	// every problem of every ticket at once: told one per attempt, the
	// model fixes one thing each time and runs out of attempts
	var problems []string
	for i, t := range raw.Tickets {
		t.Kind = strings.TrimSpace(strings.ToLower(t.Kind))
		t.Title = strings.TrimSpace(t.Title)
		switch {
		case t.Kind != KindFeature && t.Kind != KindHotfix:
			problems = append(problems, fmt.Sprintf("ticket %d: kind %q (want feature or hotfix)", i+1, t.Kind))
		case t.Title == "":
			problems = append(problems, fmt.Sprintf("ticket %d: empty title", i+1))
		default:
			if err := (NewTicket{Kind: t.Kind, Title: t.Title, Body: t.Body}).Validate(); err != nil {
				problems = append(problems, fmt.Sprintf("ticket %d: %v", i+1, err))
			}
		}
		raw.Tickets[i] = t
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return raw.Tickets, nil
}

// decodeObject finds the first JSON object in text that has the wanted key
// and decodes it into v.
func decodeObject(text, wantKey string, v any) error {
	text = strings.TrimSpace(text)
	if text == "" {
		return errors.New("empty answer")
	}
	// the last such object is the answer: one before it may be the format
	// quoted back ("the format is {…}; my verdict: {…}")
	var found []byte
	for start := strings.IndexByte(text, '{'); start >= 0; {
		dec := json.NewDecoder(strings.NewReader(text[start:]))
		var probe map[string]json.RawMessage
		skip := 1
		if err := dec.Decode(&probe); err == nil {
			if _, ok := probe[wantKey]; ok {
				found, _ = json.Marshal(probe)
				skip = int(dec.InputOffset()) // not the objects inside it
			}
		}
		next := strings.IndexByte(text[start+skip:], '{')
		if next < 0 {
			break
		}
		start += skip + next
	}
	if found == nil {
		return fmt.Errorf("no JSON object with %q found", wantKey)
	}
	if err := json.Unmarshal(found, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			// said as the model was asked, not in Go's terms
			return fmt.Errorf("%s must be %s, not %s", fieldWords(reflect.TypeOf(v), strings.TrimLeft(te.Field, "."), te.Type), jsonKind(te.Type), aJSON(te.Value))
		}
		return fmt.Errorf("the JSON object does not fit: %v", err)
	}
	return nil
}

// fieldWords names the JSON field at path (Go's "tickets.kind") in the
// value of type root, as the model wrote it: `"kind" of each item of
// "tickets"`. got is the type the value was to fill: a list's item type
// when the value was one of its items.
func fieldWords(root reflect.Type, path string, got reflect.Type) string {
	var words []string
	t := root
	for seg := range strings.SplitSeq(path, ".") {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return fmt.Sprintf("%q", path)
		}
		found := false
		for i := range t.NumField() {
			f := t.Field(i)
			if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name == seg || name == "" && strings.EqualFold(f.Name, seg) {
				t, found = f.Type, true
				break
			}
		}
		if !found {
			return fmt.Sprintf("%q", path)
		}
		words = append([]string{fmt.Sprintf("%q", seg)}, words...)
		if (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && t != got {
			// inside the list: its items
			t = t.Elem()
			words[0] = "each item of " + words[0]
		}
	}
	return strings.Join(words, " of ")
}

// jsonKind names what JSON value a Go type takes.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "a number"
}

// aJSON is a JSON value's kind with its article ("a string").
func aJSON(value string) string {
	switch value {
	case "array":
		return "a list"
	case "object":
		return "an object"
	case "bool":
		return "true or false"
	case "":
		return "something else"
	}
	return "a " + value
}
