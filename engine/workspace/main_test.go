package workspace

import (
	"os"
	"testing"

	"agent-tui/engine/workspace/wstest"
)

func TestMain(m *testing.M) { os.Exit(wstest.M{M: m}.Run()) }
