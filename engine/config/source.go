package config

import (
	"strconv"
	"strings"
)

// source maps TOML key paths to the line where they first appear, so that
// errors found after decoding (unknown model, bad provider, ...) can still
// point at a line. It is a best-effort scanner, not a parser: the file has
// already been accepted by go-toml when it is consulted.
type source struct {
	lines map[string]int // joined path -> 1-based line
}

const pathSep = "\x00"

func joinPath(p []string) string { return strings.Join(p, pathSep) }

// scanSource indexes every table header and key of a TOML document. Arrays of
// tables get their occurrence number as an extra path element, so the third
// [[model]] is ["model", "2"] and its provider key ["model", "2", "provider"].
func scanSource(data []byte) *source {
	s := &source{lines: map[string]int{}}
	var table []string
	arrays := map[string]int{} // header path -> occurrences so far
	depth := 0                 // open brackets/braces of a multi-line value
	var mlDelim string         // closing delimiter of a multi-line string we are inside

	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		if mlDelim != "" {
			idx := strings.Index(line, mlDelim)
			if idx < 0 {
				continue
			}
			mlDelim = ""
			line = line[idx+3:]
			depth, mlDelim = scanValue(line, depth)
			continue
		}
		if depth > 0 {
			depth, mlDelim = scanValue(line, depth)
			continue
		}
		t := strings.TrimSpace(line)
		switch {
		case t == "" || t[0] == '#':
			continue
		case strings.HasPrefix(t, "[["):
			end := strings.Index(t, "]]")
			if end < 0 {
				continue
			}
			p := splitKey(t[2:end])
			k := joinPath(p)
			idx := arrays[k]
			arrays[k] = idx + 1
			table = append(p, strconv.Itoa(idx))
			s.mark(table, n)
		case t[0] == '[':
			end := strings.Index(t, "]")
			if end < 0 {
				continue
			}
			table = withArrayIndex(splitKey(t[1:end]), arrays)
			s.mark(table, n)
		default:
			eq := keyEnd(t)
			if eq < 0 {
				continue
			}
			full := append(append([]string(nil), table...), splitKey(t[:eq])...)
			s.mark(full, n)
			depth, mlDelim = scanValue(t[eq+1:], 0)
		}
	}
	return s
}

// withArrayIndex rewrites a sub-table header of an array of tables
// ([model.x] after [[model]]) to address the latest element.
func withArrayIndex(p []string, arrays map[string]int) []string {
	var out []string
	for i, part := range p {
		out = append(out, part)
		if n, ok := arrays[joinPath(p[:i+1])]; ok && n > 0 {
			out = append(out, strconv.Itoa(n-1))
		}
	}
	return out
}

// mark records the line of path and of every prefix not seen before, so a
// dotted key like phases.code.models also locates the table phases.code.
func (s *source) mark(path []string, line int) {
	for i := 1; i <= len(path); i++ {
		k := joinPath(path[:i])
		if _, ok := s.lines[k]; !ok {
			s.lines[k] = line
		}
	}
}

// line returns the line of path, else of its closest enclosing table, else 0.
func (s *source) line(path ...string) int {
	if s == nil {
		return 0
	}
	for i := len(path); i > 0; i-- {
		if n, ok := s.lines[joinPath(path[:i])]; ok {
			return n
		}
	}
	return 0
}

// keyAt returns the dotted key that starts on line n, if any.
func (s *source) keyAt(n int) string {
	if s == nil || n <= 0 {
		return ""
	}
	best := ""
	for k, l := range s.lines {
		if l == n && len(k) > len(best) {
			best = k
		}
	}
	return strings.ReplaceAll(best, pathSep, ".")
}

// keyEnd returns the index of the '=' separating key and value, ignoring
// quoted parts of the key; -1 if the line has none.
func keyEnd(t string) int {
	var q byte
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '=':
			return i
		case c == '#':
			return -1
		}
	}
	return -1
}

// splitKey splits a dotted key into unquoted parts.
func splitKey(k string) []string {
	var parts []string
	var cur strings.Builder
	var q byte
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			q = c
		case c == '.':
			parts = append(parts, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, strings.TrimSpace(cur.String()))
}

// scanValue follows brackets and strings through a value so that lines of a
// multi-line array or string are not mistaken for keys or headers. It returns
// the bracket depth at the end of the line and, if a multi-line string is
// still open, its closing delimiter.
func scanValue(v string, depth int) (int, string) {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch c {
		case '#':
			return depth, ""
		case '[', '{':
			depth++
		case ']', '}':
			if depth > 0 {
				depth--
			}
		case '"', '\'':
			if strings.HasPrefix(v[i:], `"""`) || strings.HasPrefix(v[i:], `'''`) {
				delim := v[i : i+3]
				end := strings.Index(v[i+3:], delim)
				if end < 0 {
					return depth, delim
				}
				i += 3 + end + 2
				continue
			}
			for i++; i < len(v) && v[i] != c; i++ {
				if c == '"' && v[i] == '\\' {
					i++
				}
			}
		}
	}
	return depth, ""
}
