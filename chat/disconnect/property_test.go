package disconnect

import (
	"testing"

	"achat/chat/chattest"
	"achat/model"
)

// nextChaptersClaims are the properties that the replies chapter adds: this
// chapter does not claim them, and the TestBug tests below show it breaking
// them.
var nextChaptersClaims = []model.Property{model.Impostor, model.Errors}

// Every property this chapter claims holds, for random schedules of clients
// that connect, log in (under taken names too), send good and bad lines,
// read slowly or not at all, leave and come back, disconnect, and Ctrl-C at
// any point.
func TestProperties(t *testing.T) {
	t.Run("pipe", func(t *testing.T) {
		chattest.CheckProperties(t, newServer, chattest.Options{
			Transport: chattest.Pipe, Schedules: 1000, FreesNames: true, Unclaimed: nextChaptersClaims})
	})
	// Every step settled: no step races the next, so what fails here fails
	// again when rapid replays it (the mutants test runs this one).
	t.Run("settled", func(t *testing.T) {
		chattest.CheckProperties(t, newServer, chattest.Options{
			Transport: chattest.Pipe, Schedules: 500, FreesNames: true, NoRush: true, Unclaimed: nextChaptersClaims})
	})
	// Clients that leave while what is queued for them is unread: it must
	// still reach them (the mutants test runs this one too).
	t.Run("leaving", func(t *testing.T) {
		chattest.CheckProperties(t, newServer, chattest.Options{
			Transport: chattest.Pipe, Schedules: 300, FreesNames: true, NoRush: true,
			Clients: 2, Start: chattest.NotReading(), Steps: leavingSteps, Unclaimed: nextChaptersClaims})
	})
	t.Run("tcp", func(t *testing.T) {
		chattest.CheckProperties(t, newServer, chattest.Options{
			Transport: chattest.TCP, FreesNames: true, Unclaimed: nextChaptersClaims})
	})
}

// leavingSteps: messages, then a client leaves, perhaps before it read them.
var leavingSteps = []chattest.StepKind{
	chattest.Sends, chattest.Leaves, chattest.StopsReading, chattest.ResumesReading,
	chattest.Connects, chattest.LogsIn, chattest.CtrlC, chattest.Sends,
}

// The reader reads on while the broker decides on its login: a line that
// came with a taken name is accepted under that name.
func TestBugASecondLoginSpeaksBeforeItIsRefused(t *testing.T) {
	chattest.ExpectCounterexample(t, newServer, chattest.Options{
		NoRush:     true,
		Steps:      []chattest.StepKind{chattest.Connects, chattest.LogsInAndSends, chattest.LogsIn},
		Clients:    2,
		FreesNames: true,
	}, model.Impostor)
}

// A bad line is skipped without a word, as the tutorial does: the client
// never learns that its line went nowhere.
func TestBugAMistakeGetsNoAnswer(t *testing.T) {
	chattest.ExpectCounterexample(t, newServer, chattest.Options{
		NoRush:     true,
		Steps:      []chattest.StepKind{chattest.SendsBad},
		Clients:    1,
		Start:      chattest.LoggedIn("alice"),
		FreesNames: true,
	}, model.Errors)
}
