package shutdown

import (
	"testing"

	"achat/chat/chattest"
	"achat/model"
)

// nextChaptersClaims are the properties that the disconnect and replies
// chapters add (Login; Impostor and Errors):
// this chapter does not claim them, and the TestBug tests below show it
// breaking them.
var nextChaptersClaims = []model.Property{model.Login, model.Impostor, model.Errors}

// Every property this chapter claims holds, for random schedules of clients
// that connect, log in, send good and bad lines, read slowly or not at all,
// leave, disconnect, and Ctrl-C at any point.
func TestProperties(t *testing.T) {
	t.Run("pipe", func(t *testing.T) {
		chattest.CheckProperties(t, newServer, chattest.Options{
			Transport: chattest.Pipe, Schedules: 1000, Unclaimed: nextChaptersClaims})
	})
	t.Run("tcp", func(t *testing.T) {
		chattest.CheckProperties(t, newServer, chattest.Options{
			Transport: chattest.TCP, Unclaimed: nextChaptersClaims})
	})
}

func TestBugADisconnectedClientsNameStaysTaken(t *testing.T) {
	chattest.ExpectCounterexample(t, newServer, chattest.Options{
		NoRush: true,
		Steps:  []chattest.StepKind{chattest.Connects, chattest.LogsIn, chattest.Leaves, chattest.Disconnects},
	}, model.Login)
}

// The reader reads on while the broker decides on its login: a line that
// came with a taken name is accepted under that name.
func TestBugASecondLoginSpeaksBeforeItIsRefused(t *testing.T) {
	chattest.ExpectCounterexample(t, newServer, chattest.Options{
		NoRush:  true,
		Steps:   []chattest.StepKind{chattest.Connects, chattest.LogsInAndSends, chattest.LogsIn},
		Clients: 2,
	}, model.Impostor)
}

// A bad line is skipped without a word, as the tutorial does: the client
// never learns that its line went nowhere.
func TestBugAMistakeGetsNoAnswer(t *testing.T) {
	chattest.ExpectCounterexample(t, newServer, chattest.Options{
		NoRush:  true,
		Steps:   []chattest.StepKind{chattest.SendsBad},
		Clients: 1,
		Start:   chattest.LoggedIn("alice"),
	}, model.Errors)
}
