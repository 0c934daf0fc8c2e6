// Package client is the chapter "A client": the program a user runs to chat,
// and what it takes for such a program to end well.
//
// A chat client copies in two directions at once, so it has two goroutines
// besides its own:
//
//	stdin --typed line--> Chat's goroutine --line--> conn --> server
//	server --> conn --line--> receiver --> stdout
//
// Each direction has a single owner: only the stdin goroutine reads stdin,
// only Chat writes to the connection, only the receiver reads the connection
// and prints. Chat waits for the receiver, always, so nothing is printed
// after Chat returns. It cannot always wait for the stdin goroutine, and
// that is the chapter's main lesson: a Read of os.Stdin cannot be
// interrupted, so a goroutine blocked in it can only be left behind, harmless
// because it owns nothing else (see startTyping).
//
// The three ways a session ends:
//
//   - Ctrl-D (stdin ends): the client half-closes the connection. The server
//     reads every line typed before it, then the end of the input, and can
//     still answer: the client prints what arrives until the server closes,
//     or for at most Config.Linger. The async-std tutorial's client exits at
//     the end of stdin and can lose the last replies.
//   - the server closes: the client prints every line that came before the
//     close and returns, even while the user is in the middle of typing.
//   - Ctrl-C (the context is cancelled): stop now. The client closes the
//     connection at once, prints nothing more, and the command exits 130.
//     Lines already sent have been handed to the kernel, which sends them
//     before the close.
//
// Until a later chapter's server sends "error: ..." before it refuses a
// login, a server refuses a name by closing the connection without a word,
// and the client reports that as ErrRefused.
package client
