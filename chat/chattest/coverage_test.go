package chattest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The floor fails a run of the default steps that rushes and has enough
// schedules, and only such a run: a floor that cannot fail holds nothing.
func TestTheCoverageFloorFailsARunThatDrifts(t *testing.T) {
	rushed := Options{defaultSteps: true}
	runOf := func(schedules, inFlight int) *tally { return &tally{schedules: schedules, inFlight: inFlight} }

	assert.Error(t, runOf(1000, 199).underFloor(rushed), "19.9% in flight, under 20%")
	assert.NoError(t, runOf(1000, 200).underFloor(rushed), "20% in flight, at the floor")
	assert.NoError(t, runOf(minTallied-1, 0).underFloor(rushed), "too few schedules to judge")

	settled := rushed
	settled.NoRush = true
	assert.NoError(t, runOf(1000, 0).underFloor(settled), "a settled run: Ctrl-C never lands in flight")

	ownSteps := Options{}
	assert.NoError(t, runOf(1000, 0).underFloor(ownSteps), "a run of chosen steps aims elsewhere")
}
