package main

import (
	"errors"
	"io"
)

// replaced when the ui and demo packages land
func runTUI(g globals, stderr io.Writer) error { return errors.New("the TUI is not built yet") }
func runDemo(stderr io.Writer) error           { return errors.New("demo mode is not built yet") }
