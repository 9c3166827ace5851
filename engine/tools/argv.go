package tools

import (
	"os/exec"
	"path/filepath"
	"strings"
)

// shellOnly are words that mean something only to a shell: keywords and
// builtins without a program of the same name.
var shellOnly = map[string]bool{
	".": true, ":": true, "alias": true, "bg": true, "break": true, "case": true, "cd": true,
	"command": true, "continue": true, "do": true, "done": true, "elif": true, "else": true,
	"esac": true, "eval": true, "exec": true, "exit": true, "export": true, "fg": true, "fi": true,
	"for": true, "getopts": true, "hash": true, "if": true, "jobs": true, "local": true,
	"read": true, "readonly": true, "return": true, "set": true, "shift": true, "source": true,
	"then": true, "times": true, "trap": true, "type": true, "ulimit": true, "umask": true,
	"unalias": true, "unset": true, "until": true, "wait": true, "while": true,
}

// plainWord holds no character a shell would interpret.
func plainWord(w string) bool {
	for _, r := range w {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("_./:,+@%=-", r):
		default:
			return false
		}
	}
	return true
}

// CommandArgv is how a configured command line runs in dir: a plain
// "program arg arg" is started directly, anything a shell must read
// (quotes, pipes, variables, globs, builtins) through `sh -c`. Every check
// of every ticket runs a command, and the shell in between is one process
// more each time.
func CommandArgv(command, dir string) []string {
	words := strings.Fields(command)
	// a line break separates commands for a shell: never one argv
	direct := len(words) > 0 && !strings.Contains(words[0], "=") && !shellOnly[words[0]] && !strings.ContainsAny(strings.TrimSpace(command), "\n\r")
	for _, w := range words {
		direct = direct && plainWord(w)
	}
	if direct && findProgram(words[0], dir) {
		return words
	}
	return []string{"sh", "-c", command}
}

// findProgram says whether prog runs from dir: on PATH, or a path,
// relative ones from dir (./run_tests.sh is the one in dir).
func findProgram(prog, dir string) bool {
	if strings.Contains(prog, "/") && !filepath.IsAbs(prog) {
		prog = filepath.Join(dir, prog)
	}
	_, err := exec.LookPath(prog)
	return err == nil
}

// Resolves says whether the command's program can be found (a shell
// builtin or construct counts), from dir for a relative path.
func Resolves(command, dir string) bool {
	words := strings.Fields(command)
	if len(words) == 0 {
		return false
	}
	prog := words[0]
	if strings.Contains(prog, "=") || shellOnly[prog] || !plainWord(prog) {
		return true // the shell decides; no way to tell from here
	}
	return findProgram(prog, dir)
}
