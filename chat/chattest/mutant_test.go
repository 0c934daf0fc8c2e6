package chattest

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"achat/model"
)

// What rapid prints of a failure it shrank, and of one it could not replay.
func TestCaughtByReadsRapidsReport(t *testing.T) {
	shrunk := "    property.go:147: [rapid] failed after 4 tests: Error lines: a mistake got no error line, the wrong one, or one out of order\n"
	unreplayed := "    property.go:147: [rapid] flaky test, can not reproduce a failure\n" +
		"        Original traceback (Error lines: a mistake got no error line, the wrong one, or one out of order):\n"
	assert.Equal(t, model.Errors, caughtBy(shrunk))
	assert.Equal(t, model.Property(""), caughtUnreplayed(shrunk))
	assert.Equal(t, model.Property(""), caughtBy(unreplayed))
	assert.Equal(t, model.Errors, caughtUnreplayed(unreplayed))
}
