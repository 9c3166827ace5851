package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/charmbracelet/x/term"

	"agent-tui/engine/demo"
	"agent-tui/ui"
)

// runTUI runs the engine and the UI in one process until the user quits.
func runTUI(g globals, stderr io.Writer) error {
	// before anything is opened or started: without a terminal the TUI
	// cannot draw, and nothing else should happen in its place
	if err := needTerminal(); err != nil {
		return err
	}
	en, err := openEnv(g)
	if err != nil {
		return err
	}
	defer en.close()
	// the screen belongs to the UI: the engine logs to a file
	logPath := filepath.Join(en.repo.GitDir, "agent-tui.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	// without a model the TUI still opens: history, diffs, new tickets and
	// decisions need none, and are carried out by a later run
	noModel := ""
	if err := en.runnable(); err != nil {
		noModel = err.Error()
	} else if why := en.noProvider(); why != "" {
		noModel = why
	}
	eng := en.newEngine(logFile)
	for _, w := range eng.Warnings() {
		fmt.Fprintf(logFile, "agent-tui: warning: %s\n", w)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	engineDone := make(chan error, 1)
	if noModel == "" {
		go func() { engineDone <- eng.Run(ctx, false) }()
	} else {
		engineDone <- nil
	}

	// browsing a demo whose model is gone, its attempts are still the
	// simulated model's (the status line does not say one runs)
	// a deliverable being edited stays where confined commands cannot read
	// it (a sensitive ticket's, too), not in the shared temp directory
	editDir := filepath.Join(en.repo.GitDir, "agent-tui", "edit")
	uiErr := ui.Run(ctx, eng, ui.Options{Simulated: en.cfg.Simulated(), Repo: en.repo.Dir, NoModel: noModel, EditDir: editDir,
		StateFile: filepath.Join(en.repo.GitDir, "agent-tui", "ui-state.json")})
	// quitting stops model calls; cut-off attempts are marked interrupted
	// and run again on the next start
	cancel()
	if err := <-engineDone; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return uiErr
}

// runDemo opens the TUI on a throwaway repository with the simulated model.
func runDemo(stderr io.Writer) error {
	// before a repository and a model are made for nothing
	if needTerminal() != nil {
		return errors.New("--demo opens the TUI and needs a terminal")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, stopModel, err := demo.Start(ctx)
	if err != nil {
		return err
	}
	defer stopModel()
	err = runTUI(globals{repo: d.Dir, config: d.ConfigPath, db: d.DBPath, demo: true}, stderr)
	fmt.Fprintf(stderr, "demo repository kept at %s (with its worktrees in %s: remove that directory when done)\n", d.Dir, d.Root)
	return err
}

// needTerminal says why the TUI cannot be drawn here, or nil.
func needTerminal() error {
	const hint = ": run it in a terminal, or use `agent-tui run` and the other commands (agent-tui --help)"
	if !term.IsTerminal(os.Stdout.Fd()) {
		return errors.New("the TUI needs a terminal, and standard output is not one" + hint)
	}
	tty, err := os.Open("/dev/tty")
	if err != nil {
		return errors.New("the TUI needs a terminal, and this process has none" + hint)
	}
	tty.Close()
	return nil
}
